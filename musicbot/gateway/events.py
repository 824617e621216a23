"""Typed gateway dispatch events: only the fields the bot uses; unknown fields are ignored.

Parsed by hand from the JSON ``d`` of an op 0 payload.  Snowflakes arrive as strings and
become ``int``.  A dispatch whose ``t`` is not modelled here parses to ``None`` and is not
delivered.  A modelled event with a missing or mistyped field raises :class:`EventDecodeError`
(the shard logs it and carries on; one bad event must not drop the connection).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import attrs

from musicbot.errors import MusicBotError


@attrs.define(auto_exc=True, eq=False)
class EventDecodeError(MusicBotError):
    event: str
    reason: str

    def __str__(self) -> str:
        return f"cannot decode gateway event {self.event}: {self.reason}"


def _sf(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise TypeError(f"snowflake expected, got {type(v).__name__}")
    return int(v)


def _opt_sf(v: Any) -> int | None:
    return None if v is None else _sf(v)


@attrs.frozen(kw_only=True)
class Ready:
    session_id: str
    resume_gateway_url: str
    user_id: int
    application_id: int
    guild_ids: tuple[int, ...]


@attrs.frozen(kw_only=True)
class Resumed:
    pass


@attrs.frozen(kw_only=True)
class Channel:
    id: int
    type: int  # 0 text, 2 voice, 13 stage, 4 category, ...
    name: str | None


@attrs.frozen(kw_only=True)
class VoiceStateUpdate:
    guild_id: int
    channel_id: int | None  # None: the user left voice
    user_id: int
    session_id: str
    member_roles: tuple[int, ...] | None = None  # present when Discord includes the member
    self_mute: bool = False
    self_deaf: bool = False


@attrs.frozen(kw_only=True)
class GuildCreate:
    id: int
    name: str
    channels: tuple[Channel, ...]
    voice_states: tuple[VoiceStateUpdate, ...]
    member_count: int
    unavailable: bool = False


@attrs.frozen(kw_only=True)
class GuildDelete:
    id: int
    unavailable: bool  # True: outage; False: the bot was removed


@attrs.frozen(kw_only=True)
class ChannelDelete:
    id: int
    guild_id: int | None
    type: int


@attrs.frozen(kw_only=True)
class VoiceServerUpdate:
    guild_id: int
    token: str = attrs.field(repr=False)
    endpoint: str | None  # None: the voice server went away; wait for another update


@attrs.frozen(kw_only=True)
class CommandOption:
    name: str
    type: int  # 1 sub command, 2 group, 3 string, 4 integer, 5 boolean, 10 number, ...
    value: str | int | float | bool | None = None
    focused: bool = False  # autocomplete: the option being typed
    options: tuple[CommandOption, ...] = ()


@attrs.frozen(kw_only=True)
class InteractionData:
    name: str | None = None  # application command name
    command_id: int | None = None
    command_type: int | None = None
    options: tuple[CommandOption, ...] = ()
    custom_id: str | None = None  # components
    component_type: int | None = None
    values: tuple[str, ...] = ()  # select menus


@attrs.frozen(kw_only=True)
class InteractionCreate:
    id: int
    application_id: int
    type: int  # 1 ping, 2 command, 3 component, 4 autocomplete, 5 modal submit
    token: str = attrs.field(repr=False)
    guild_id: int | None
    channel_id: int | None
    user_id: int
    member_roles: tuple[int, ...]
    member_permissions: int  # the member's computed permissions in the channel
    locale: str | None
    guild_locale: str | None
    data: InteractionData | None


GatewayEvent: TypeAlias = (
    Ready
    | Resumed
    | GuildCreate
    | GuildDelete
    | ChannelDelete
    | VoiceStateUpdate
    | VoiceServerUpdate
    | InteractionCreate
)


@attrs.frozen(kw_only=True)
class GatewayDispatch:
    """What the router receives: one event, the shard it came from and its sequence number."""

    shard_id: int
    seq: int
    event: GatewayEvent


def _ready(d: Mapping[str, Any]) -> Ready:
    app = d.get("application") or {}
    return Ready(
        session_id=str(d["session_id"]),
        resume_gateway_url=str(d["resume_gateway_url"]),
        user_id=_sf(d["user"]["id"]),
        application_id=_sf(app["id"]) if "id" in app else _sf(d["user"]["id"]),
        guild_ids=tuple(_sf(g["id"]) for g in d.get("guilds", ())),
    )


def _voice_state(d: Mapping[str, Any], guild_id: int | None = None) -> VoiceStateUpdate:
    member = d.get("member")
    gid = guild_id if guild_id is not None else _sf(d["guild_id"])
    return VoiceStateUpdate(
        guild_id=gid,
        channel_id=_opt_sf(d.get("channel_id")),
        user_id=_sf(d["user_id"]),
        session_id=str(d["session_id"]),
        member_roles=tuple(_sf(r) for r in member.get("roles", ())) if member else None,
        self_mute=bool(d.get("self_mute", False)),
        self_deaf=bool(d.get("self_deaf", False)),
    )


def _guild_create(d: Mapping[str, Any]) -> GuildCreate:
    gid = _sf(d["id"])
    return GuildCreate(
        id=gid,
        name=str(d.get("name", "")),
        channels=tuple(
            Channel(id=_sf(c["id"]), type=int(c["type"]), name=c.get("name"))
            for c in d.get("channels", ())
        ),
        voice_states=tuple(_voice_state(v, gid) for v in d.get("voice_states", ())),
        member_count=int(d.get("member_count", 0)),
        unavailable=bool(d.get("unavailable", False)),
    )


def _option(d: Mapping[str, Any]) -> CommandOption:
    value = d.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise TypeError("option value must be a scalar")
    return CommandOption(
        name=str(d["name"]),
        type=int(d["type"]),
        value=value,
        focused=bool(d.get("focused", False)),
        options=tuple(_option(o) for o in d.get("options", ())),
    )


def _interaction_data(d: Mapping[str, Any] | None) -> InteractionData | None:
    if d is None:
        return None
    return InteractionData(
        name=d.get("name"),
        command_id=_opt_sf(d.get("id")),
        command_type=d.get("type") if "name" in d else None,
        options=tuple(_option(o) for o in d.get("options", ())),
        custom_id=d.get("custom_id"),
        component_type=d.get("component_type"),
        values=tuple(str(v) for v in d.get("values", ())),
    )


def _interaction(d: Mapping[str, Any]) -> InteractionCreate:
    member = d.get("member")
    user = member["user"] if member else d["user"]
    return InteractionCreate(
        id=_sf(d["id"]),
        application_id=_sf(d["application_id"]),
        type=int(d["type"]),
        token=str(d["token"]),
        guild_id=_opt_sf(d.get("guild_id")),
        channel_id=_opt_sf(d.get("channel_id") or (d.get("channel") or {}).get("id")),
        user_id=_sf(user["id"]),
        member_roles=tuple(_sf(r) for r in member.get("roles", ())) if member else (),
        member_permissions=int(member.get("permissions", "0")) if member else 0,
        locale=d.get("locale"),
        guild_locale=d.get("guild_locale"),
        data=_interaction_data(d.get("data")),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], GatewayEvent]] = {
    "READY": _ready,
    "RESUMED": lambda d: Resumed(),
    "GUILD_CREATE": _guild_create,
    "GUILD_DELETE": lambda d: GuildDelete(
        id=_sf(d["id"]), unavailable=bool(d.get("unavailable", False))
    ),
    "CHANNEL_DELETE": lambda d: ChannelDelete(
        id=_sf(d["id"]), guild_id=_opt_sf(d.get("guild_id")), type=int(d["type"])
    ),
    "VOICE_STATE_UPDATE": _voice_state,
    "VOICE_SERVER_UPDATE": lambda d: VoiceServerUpdate(
        guild_id=_sf(d["guild_id"]),
        token=str(d["token"]),
        endpoint=None if d.get("endpoint") is None else str(d["endpoint"]),
    ),
    "INTERACTION_CREATE": _interaction,
}


def parse_event(name: str, data: Any) -> GatewayEvent | None:
    """Parse one dispatch; ``None`` for event types the bot does not use."""
    parser = _PARSERS.get(name)
    if parser is None:
        return None
    if not isinstance(data, Mapping):
        raise EventDecodeError(name, "d is not an object")
    try:
        return parser(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EventDecodeError(name, f"{type(exc).__name__}: {exc}") from None
