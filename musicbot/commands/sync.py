"""Register slash commands only when they changed.

Theory: ``PUT …/commands`` overwrites every command and counts against a daily limit of
command creations, so the bot first ``GET``s what Discord has (``with_localizations=true``,
otherwise the localization maps are left out) and compares *semantically*: Discord echoes
commands with ids, versions and defaults filled in (``required: false`` dropped,
``integration_types: [0]``, ``nsfw: false``, permissions as strings …).  Both sides are brought
to one normal form holding only what a definition can say, and a PUT happens only if the normal
forms differ.  With ``[discord] command_guild_ids`` the commands go to those guilds (they
appear at once, handy for testing), else they are global.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

Json = Any


class CommandsApi(Protocol):
    """The part of :class:`musicbot.rest.RestClient` that sync needs."""

    async def get_global_commands(
        self, application_id: int, *, with_localizations: bool = True
    ) -> list[dict[str, Any]]: ...

    async def bulk_overwrite_global_commands(
        self, application_id: int, commands: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]: ...

    async def get_guild_commands(
        self, application_id: int, guild_id: int, *, with_localizations: bool = True
    ) -> list[dict[str, Any]]: ...

    async def bulk_overwrite_guild_commands(
        self, application_id: int, guild_id: int, commands: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]: ...


def _localizations(value: Json) -> dict[str, str]:
    return dict(value) if isinstance(value, Mapping) else {}


def _choice(choice: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": choice["name"],
        "name_localizations": _localizations(choice.get("name_localizations")),
        "value": choice["value"],
    }


def normalize_option(option: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": int(option["type"]),
        "name": option["name"],
        "name_localizations": _localizations(option.get("name_localizations")),
        "description": option.get("description") or "",
        "description_localizations": _localizations(option.get("description_localizations")),
        "required": bool(option.get("required", False)),
        "autocomplete": bool(option.get("autocomplete", False)),
        "choices": [_choice(c) for c in option.get("choices") or []],
        "min_value": option.get("min_value"),
        "max_value": option.get("max_value"),
        "min_length": option.get("min_length"),
        "max_length": option.get("max_length"),
        "channel_types": sorted(option.get("channel_types") or []),
        "options": [normalize_option(o) for o in option.get("options") or []],
    }


def normalize_command(command: Mapping[str, Any]) -> dict[str, Any]:
    """What a definition can say about a command, with Discord's defaults filled in."""
    permissions = command.get("default_member_permissions")
    contexts = command.get("contexts")
    return {
        "type": int(command.get("type") or 1),
        "name": command["name"],
        "name_localizations": _localizations(command.get("name_localizations")),
        "description": command.get("description") or "",
        "description_localizations": _localizations(command.get("description_localizations")),
        "options": [normalize_option(o) for o in command.get("options") or []],
        "default_member_permissions": None if permissions is None else str(permissions),
        "contexts": None if contexts is None else sorted(contexts),
        "integration_types": sorted(command.get("integration_types") or [0]),
        "nsfw": bool(command.get("nsfw", False)),
    }


def same_commands(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    """Whether two command lists mean the same (order of commands does not matter)."""

    def keyed(cs: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
        normal = [normalize_command(c) for c in cs]
        return {(c["type"], c["name"]): c for c in normal}

    return len(a) == len(b) and keyed(a) == keyed(b)


async def sync_commands(
    rest: CommandsApi,
    application_id: int,
    definitions: Sequence[Mapping[str, Any]],
    guild_ids: Sequence[int] = (),
) -> list[int | None]:
    """Make Discord's commands equal ``definitions``; return the scopes that were overwritten.

    A scope is a guild id, or ``None`` for the global commands (used when ``guild_ids`` is
    empty).
    """
    updated: list[int | None] = []
    scopes: Sequence[int | None] = list(guild_ids) or [None]
    for guild_id in scopes:
        if guild_id is None:
            current = await rest.get_global_commands(application_id)
        else:
            current = await rest.get_guild_commands(application_id, guild_id)
        if same_commands(current, definitions):
            log.info("commands_up_to_date", guild_id=guild_id, count=len(definitions))
            continue
        if guild_id is None:
            await rest.bulk_overwrite_global_commands(application_id, definitions)
        else:
            await rest.bulk_overwrite_guild_commands(application_id, guild_id, definitions)
        log.info("commands_registered", guild_id=guild_id, count=len(definitions))
        updated.append(guild_id)
    return updated
