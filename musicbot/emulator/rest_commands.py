"""Checks of application-command bodies that Discord makes beyond its OpenAPI schema.

Discord's OpenAPI description leaves ``additionalProperties`` open, so a validator built from it
accepts an option field Discord does not know (``requried: true``, a misspelt ``min_value``) or
an option type it has not got.  Discord-compatible servers reject those with a 400 naming the
field; so does the emulator, so a typo in the bot's command table fails a test instead of
silently registering a command without its constraint.  Duplicate names and upper-case names
are refused as Discord does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from musicbot.emulator.rest_errors import Path

COMMAND_KEYS: Final = frozenset(
    {
        "id",
        "type",
        "name",
        "name_localizations",
        "description",
        "description_localizations",
        "options",
        "default_member_permissions",
        "dm_permission",
        "default_permission",
        "integration_types",
        "contexts",
        "nsfw",
        "handler",
    }
)
OPTION_KEYS: Final = frozenset(
    {
        "type",
        "name",
        "name_localizations",
        "description",
        "description_localizations",
        "required",
        "choices",
        "options",
        "channel_types",
        "min_value",
        "max_value",
        "min_length",
        "max_length",
        "autocomplete",
    }
)
CHOICE_KEYS: Final = frozenset({"name", "name_localizations", "value"})
OPTION_TYPES: Final = frozenset(range(1, 12))  # SUB_COMMAND (1) … ATTACHMENT (11)

Problem = tuple[Path, str, str]


def _unknown(obj: Mapping[str, Any], allowed: frozenset[str], where: Path) -> list[Problem]:
    return [
        ((*where, key), "UNKNOWN_FIELD", f"Unknown field {key!r}.")
        for key in obj
        if key not in allowed
    ]


def _check_options(options: Any, where: Path) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(options, list):
        return problems  # the schema validator reports the wrong type
    for i, option in enumerate(options):
        at = (*where, i)
        if not isinstance(option, Mapping):
            continue
        problems += _unknown(option, OPTION_KEYS, at)
        kind = option.get("type")
        if kind not in OPTION_TYPES:
            message = f"Value must be one of {sorted(OPTION_TYPES)}."
            problems.append(((*at, "type"), "BASE_TYPE_CHOICES", message))
        for j, choice in enumerate(option.get("choices") or ()):
            if isinstance(choice, Mapping):
                problems += _unknown(choice, CHOICE_KEYS, (*at, "choices", j))
        if "options" in option:
            problems += _check_options(option["options"], (*at, "options"))
    return problems


def check_commands(body: Any) -> list[Problem]:
    """Every problem Discord would name in a bulk-overwrite (PUT) body, by field path."""
    if not isinstance(body, list):
        return [((), "BASE_TYPE_ARRAY", "Must be an array.")]
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(body):
        if not isinstance(command, Mapping):
            problems.append(((i,), "DICT_TYPE_CONVERT", "Only dictionaries may be used."))
            continue
        problems += _unknown(command, COMMAND_KEYS, (i,))
        name = command.get("name")
        if isinstance(name, str):
            key = (int(command.get("type") or 1), name)
            if key in seen:
                message = "Application command names must be unique"
                problems.append(((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", message))
            seen.add(key)
            if key[0] == 1 and name != name.lower():
                message = f"Command name {name!r} must be lower case"
                problems.append(((i, "name"), "APPLICATION_COMMAND_INVALID_NAME", message))
        problems += _check_options(command.get("options", []), (i, "options"))
    return problems


def store_option(option: Mapping[str, Any]) -> dict[str, Any]:
    """As Discord echoes an option: false flags left out, nested options normalised."""
    out = {k: v for k, v in option.items() if v is not None}
    for flag in ("required", "autocomplete"):
        if out.get(flag) is False:
            del out[flag]
    if "options" in out:
        out["options"] = [store_option(o) for o in out["options"]]
    return out


def names(commands: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], Mapping[str, Any]]:
    return {(int(c.get("type") or 1), str(c["name"])): c for c in commands}
