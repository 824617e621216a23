"""Typed slash commands → what Discord would send, from the bot's own command definitions.

Theory: a Discord client shows every command under the name of the user's language but always
sends the canonical (English) names of the command, its subcommand and its options; values
arrive typed (string 3, integer 4, boolean 5, number 10).  The console and the web page both
take one line of text, ``/name [sub] words… [option=value]…``, so this module is the one
place that maps a line onto the definitions (names in either language), fills options in
order, types the values, and knows which option a user is still typing (the one an
autocomplete interaction is focused on).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from musicbot.commands.definitions import COMMANDS
from musicbot.commands.model import VI, OptionType

SUB_COMMAND: Final = int(OptionType.SUB_COMMAND)
_NUMERIC: Final = (int(OptionType.INTEGER), int(OptionType.NUMBER))
_TRUE: Final = ("1", "true", "yes", "on", "có")
_FALSE: Final = ("0", "false", "no", "off", "không")


class ParseError(ValueError):
    """A line that is not a valid command; the message says what is wrong."""


@attrs.frozen(kw_only=True)
class Parsed:
    """One command as Discord would send it."""

    name: str  # canonical top-level name
    sub: str | None  # canonical subcommand name
    values: Mapping[str, Any]  # canonical option name → typed value
    focused: str | None  # the option being typed (the last one given), for autocomplete
    option_specs: tuple[Mapping[str, Any], ...] = attrs.field(eq=False, repr=False)

    @property
    def path(self) -> str:
        return f"{self.name} {self.sub}" if self.sub else self.name

    def payload(self, *, focused: bool = False) -> list[dict[str, Any]]:
        """Discord's ``data.options`` list (with ``focused`` set when asked)."""
        kinds = {o["name"]: int(o["type"]) for o in self.option_specs}
        options = []
        for name, value in self.values.items():
            option: dict[str, Any] = {"name": name, "type": kinds[name], "value": value}
            if focused and name == self.focused:
                option["focused"] = True
            options.append(option)
        if self.sub is None:
            return options
        return [{"type": SUB_COMMAND, "name": self.sub, "options": options}]


def _names(spec: Mapping[str, Any]) -> tuple[str, ...]:
    localized = (spec.get("name_localizations") or {}).get(VI)
    return (spec["name"], localized) if localized else (spec["name"],)


def _by_any_name(specs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        for name in _names(spec):
            out.setdefault(name.lower(), spec)
    return out


SPECS: Final[tuple[dict[str, Any], ...]] = tuple(c.to_json() for c in COMMANDS)
BY_ANY_NAME: Final[Mapping[str, dict[str, Any]]] = _by_any_name(list(SPECS))


def display_name(spec: Mapping[str, Any], locale: str) -> str:
    """The name a Discord client shows to a user of ``locale``."""
    if locale.startswith(VI):
        return str((spec.get("name_localizations") or {}).get(VI) or spec["name"])
    return str(spec["name"])


def description(spec: Mapping[str, Any], locale: str) -> str:
    if locale.startswith(VI):
        return str((spec.get("description_localizations") or {}).get(VI) or spec["description"])
    return str(spec.get("description", ""))


def _subcommands(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = list(spec.get("options") or [])
    return [o for o in options if o.get("type") == SUB_COMMAND]


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line.strip().lstrip("/"))
    except ValueError:
        # An unclosed quote while typing: split on spaces, as the user sees the words.
        return line.strip().lstrip("/").replace('"', " ").replace("'", " ").split()


def _typed(spec: Mapping[str, Any], raw: str) -> Any:
    kind = int(spec["type"])
    name = spec["name"]
    if kind in _NUMERIC:
        try:
            number = int(raw) if kind == int(OptionType.INTEGER) else float(raw)
        except ValueError:
            raise ParseError(f"{name} must be a {'whole ' if kind == 4 else ''}number") from None
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and number < low) or (high is not None and number > high):
            raise ParseError(f"{name} must be between {low} and {high}")
        return number
    if kind == int(OptionType.BOOLEAN):
        word = raw.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ParseError(f"{name} must be true or false")
    choices = spec.get("choices") or []
    if choices:
        for choice in choices:
            labels = {str(choice["value"]).lower(), *(n.lower() for n in _names(choice))}
            if raw.lower() in labels:
                return choice["value"]
        allowed = ", ".join(str(c["value"]) for c in choices)
        raise ParseError(f"{name} must be one of: {allowed}")
    return raw


def parse(line: str, *, partial: bool = False) -> Parsed:
    """``/name [sub] words… [opt=value]…`` → :class:`Parsed`; raises :class:`ParseError`.

    Words fill the required options in order (the last one takes the rest, so a query or a
    name may contain spaces); optional ones are filled in order only when a command has
    nothing required.  ``partial`` (autocomplete while typing) skips the check that required
    options are all there and keeps an unfinished value as typed.
    """
    words = _split(line)
    if not words:
        raise ParseError("type a command, for example /play")
    spec = BY_ANY_NAME.get(words[0].lower())
    if spec is None:
        raise ParseError(f"unknown command /{words[0]} (try /help)")
    options = list(spec.get("options") or [])
    rest = words[1:]
    sub: str | None = None
    subs = _subcommands(spec)
    if subs:
        by_name = _by_any_name(subs)
        if not rest or rest[0].lower() not in by_name:
            names = ", ".join(s["name"] for s in subs)
            raise ParseError(f"/{spec['name']} needs one of: {names}")
        chosen = by_name[rest[0].lower()]
        sub = chosen["name"]
        options = list(chosen.get("options") or [])
        rest = rest[1:]
    by_option = _by_any_name(options)
    raw: dict[str, str] = {}
    positional: list[str] = []
    order: list[str] = []
    for word in rest:
        key, eq, value = word.partition("=")
        if eq and key.lower() in by_option and not word.startswith(("http://", "https://")):
            canonical = by_option[key.lower()]["name"]
            raw[canonical] = value
            order.append(canonical)
        else:
            positional.append(word)
    unset = [o for o in options if o["name"] not in raw]
    free = [o for o in unset if o.get("required")] or unset
    for i, opt in enumerate(free):
        if i >= len(positional):
            break
        last = i == len(free) - 1
        raw[opt["name"]] = " ".join(positional[i:]) if last else positional[i]
        order.append(opt["name"])
    if len(positional) > len(free) and not free:
        raise ParseError(f"/{spec['name']} takes no more words: {' '.join(positional)}")
    specs = {o["name"]: o for o in options}
    values: dict[str, Any] = {}
    focused = order[-1] if order else None
    for key in sorted(raw, key=lambda k: [o["name"] for o in options].index(k)):
        if partial and key == focused:
            values[key] = raw[key]
            continue
        values[key] = _typed(specs[key], raw[key])
    if not partial:
        missing = [o["name"] for o in options if o.get("required") and o["name"] not in values]
        if missing:
            raise ParseError(f"/{spec['name']} needs {', '.join(missing)}")
    return Parsed(
        name=spec["name"],
        sub=sub,
        values=values,
        focused=focused,
        option_specs=tuple(options),
    )


def completions(line: str) -> Iterator[tuple[str, str]]:
    """What may come next after ``line`` (as typed so far): (word, hint) pairs.

    Command names in both languages, then subcommands, then ``option=`` names and the
    choices of an option with fixed choices.
    """
    words = _split(line)
    ends_with_space = line.endswith(" ")
    if not words or (len(words) == 1 and not ends_with_space):
        prefix = words[0].lower() if words else ""
        for spec in SPECS:
            for name in _names(spec):
                if name.startswith(prefix):
                    yield "/" + name, str(spec.get("description", ""))
        yield from (
            (w, h)
            for w, h in (
                ("/help", "what you can type"),
                ("/quit", "stop everything"),
                ("/as", "act as another member"),
                ("/locale", "your Discord language (en-US or vi)"),
                ("/press", "press a button or pick from a menu"),
            )
            if w[1:].startswith(prefix)
        )
        return
    found = BY_ANY_NAME.get(words[0].lower())
    if found is None:
        return
    spec = found
    typed = words[1:] if ends_with_space else words[1:-1]
    current = "" if ends_with_space else words[-1]
    options = list(spec.get("options") or [])
    subs = _subcommands(spec)
    if subs:
        if not typed:
            for s in subs:
                for name in _names(s):
                    if name.startswith(current.lower()):
                        yield name, str(s.get("description", ""))
            return
        chosen = _by_any_name(subs).get(typed[0].lower())
        options = list(chosen.get("options") or []) if chosen else []
    key, eq, value = current.partition("=")
    by_option = _by_any_name(options)
    if eq and key.lower() in by_option:
        for choice in by_option[key.lower()].get("choices") or []:
            if str(choice["value"]).startswith(value):
                yield f"{key}={choice['value']}", str(choice["name"])
        return
    given = {w.partition("=")[0].lower() for w in typed if "=" in w}
    for opt in options:
        names = _names(opt)
        if any(n.lower() in given for n in names):
            continue
        for name in names:
            if name.startswith(current.lower()):
                yield f"{name}=", str(opt.get("description", ""))
