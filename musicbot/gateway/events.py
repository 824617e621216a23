"""Typed gateway dispatch events: only the fields the bot uses; unknown fields are ignored.

Parsed by hand from the JSON ``d`` of an op 0 payload.  Snowflakes arrive as strings and
become ``int``.  A dispatch whose ``t`` is not modelled here parses to ``None`` and is not
delivered.  A modelled event with a missing or mistyped field raises :class:`EventDecodeError`
(the shard logs it and carries on; one bad event must not drop the connection).

The parser is the type boundary: every field of a returned event has its declared type (a
``data.name`` that is a number, a ``type`` that is a string or ``Infinity``, a snowflake of
5000 digits are refused here, so nothing downstream ever sees them).  A property test checks
this against the attrs annotations for arbitrary JSON.
"""

from __future__ import annotations

import math
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


_MAX_SNOWFLAKE_DIGITS = 20  # a 64-bit unsigned integer


def _sf(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise TypeError(f"snowflake expected, got {type(v).__name__}")
    if isinstance(v, str) and not (v.isascii() and v.isdigit() and len(v) <= _MAX_SNOWFLAKE_DIGITS):
        raise ValueError("snowflake is not a decimal number")
    n = int(v)
    if not 0 <= n < 1 << 64:
        raise ValueError("snowflake out of range")
    return n


def _opt_sf(v: Any) -> int | None:
    return None if v is None else _sf(v)


def _int(v: Any) -> int:
    """A JSON integer (not a bool, not a float, not a string)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"integer expected, got {type(v).__name__}")
    return v


def _opt_int(v: Any) -> int | None:
    return None if v is None else _int(v)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"string expected, got {type(v).__name__}")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"boolean expected, got {type(v).__name__}")
    return v


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError(f"array expected, got {type(v).__name__}")
    return v


def _obj(v: Any) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise TypeError(f"object expected, got {type(v).__name__}")
    return v


def _permissions(v: Any) -> int:
    """A permission bit set: a decimal string (Discord's form) of at most 64 bits."""
    if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 20:
        n = int(v)
        if n < 1 << 64:
            return n
    raise ValueError("permissions is not a bit set")


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
    app = _obj(d.get("application") or {})
    user = _obj(d["user"])
    return Ready(
        session_id=_str(d["session_id"]),
        resume_gateway_url=_str(d["resume_gateway_url"]),
        user_id=_sf(user["id"]),
        application_id=_sf(app["id"]) if "id" in app else _sf(user["id"]),
        guild_ids=tuple(_sf(_obj(g)["id"]) for g in _list(d.get("guilds", []))),
    )


def _roles(member: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(_sf(r) for r in _list(member.get("roles", [])))


def _voice_state(d: Any, guild_id: int | None = None) -> VoiceStateUpdate:
    d = _obj(d)
    member = d.get("member")
    gid = guild_id if guild_id is not None else _sf(d["guild_id"])
    return VoiceStateUpdate(
        guild_id=gid,
        channel_id=_opt_sf(d.get("channel_id")),
        user_id=_sf(d["user_id"]),
        session_id=_str(d["session_id"]),
        member_roles=_roles(_obj(member)) if member is not None else None,
        self_mute=_bool(d.get("self_mute", False)),
        self_deaf=_bool(d.get("self_deaf", False)),
    )


def _channel(c: Any) -> Channel:
    c = _obj(c)
    return Channel(id=_sf(c["id"]), type=_int(c["type"]), name=_opt_str(c.get("name")))


def _guild_create(d: Mapping[str, Any]) -> GuildCreate:
    gid = _sf(d["id"])
    return GuildCreate(
        id=gid,
        name=_str(d.get("name", "")),
        channels=tuple(_channel(c) for c in _list(d.get("channels", []))),
        voice_states=tuple(_voice_state(v, gid) for v in _list(d.get("voice_states", []))),
        member_count=_int(d.get("member_count", 0)),
        unavailable=_bool(d.get("unavailable", False)),
    )


# Discord nests sub-command groups two levels deep; anything deeper is not a command.
_MAX_OPTION_DEPTH = 3


def _option(d: Any, depth: int = 0) -> CommandOption:
    d = _obj(d)
    if depth >= _MAX_OPTION_DEPTH:
        raise ValueError("options nested too deep")
    value = d.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise TypeError("option value must be a scalar")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("option value is not a finite number")
    return CommandOption(
        name=_str(d["name"]),
        type=_int(d["type"]),
        value=value,
        focused=_bool(d.get("focused", False)),
        options=tuple(_option(o, depth + 1) for o in _list(d.get("options", []))),
    )


def _interaction_data(d: Any) -> InteractionData | None:
    if d is None:
        return None
    d = _obj(d)
    return InteractionData(
        name=_opt_str(d.get("name")),
        command_id=_opt_sf(d.get("id")),
        command_type=_opt_int(d.get("type")) if "name" in d else None,
        options=tuple(_option(o) for o in _list(d.get("options", []))),
        custom_id=_opt_str(d.get("custom_id")),
        component_type=_opt_int(d.get("component_type")),
        values=tuple(_str(v) for v in _list(d.get("values", []))),
    )


def _interaction(d: Mapping[str, Any]) -> InteractionCreate:
    member = d.get("member")
    if member is not None:
        member = _obj(member)
    user = _obj(member["user"] if member else d["user"])
    channel = d.get("channel_id")
    if channel is None and d.get("channel") is not None:
        channel = _obj(d["channel"]).get("id")
    return InteractionCreate(
        id=_sf(d["id"]),
        application_id=_sf(d["application_id"]),
        type=_int(d["type"]),
        token=_str(d["token"]),
        guild_id=_opt_sf(d.get("guild_id")),
        channel_id=_opt_sf(channel),
        user_id=_sf(user["id"]),
        member_roles=_roles(member) if member else (),
        member_permissions=_permissions(member.get("permissions", "0")) if member else 0,
        locale=_opt_str(d.get("locale")),
        guild_locale=_opt_str(d.get("guild_locale")),
        data=_interaction_data(d.get("data")),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], GatewayEvent]] = {
    "READY": _ready,
    "RESUMED": lambda d: Resumed(),
    "GUILD_CREATE": _guild_create,
    "GUILD_DELETE": lambda d: GuildDelete(
        id=_sf(d["id"]), unavailable=_bool(d.get("unavailable", False))
    ),
    "CHANNEL_DELETE": lambda d: ChannelDelete(
        id=_sf(d["id"]), guild_id=_opt_sf(d.get("guild_id")), type=_int(d["type"])
    ),
    "VOICE_STATE_UPDATE": _voice_state,
    "VOICE_SERVER_UPDATE": lambda d: VoiceServerUpdate(
        guild_id=_sf(d["guild_id"]),
        token=_str(d["token"]),
        endpoint=_opt_str(d.get("endpoint")),
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
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise EventDecodeError(name, f"{type(exc).__name__}: {str(exc)[:200]}") from None
    except RecursionError:
        raise EventDecodeError(name, "nested too deep") from None
