"""The emulated Discord's state: the application, guilds, channels, members, voice states.

Theory.  The world is plain synchronous state owned by the emulator's trio tasks (one thread,
no locks).  Whatever changes it that Discord would announce is *emitted* as a gateway dispatch
``(guild_id, t, d)`` to every subscriber; the gateway server routes it to the shard that owns
the guild, ``(guild_id >> 22) % num_shards``.  Payload shapes follow Discord's (snowflakes as
strings, ``member`` objects with ``user``/``roles``/``permissions``), so the bot's parsers meet
the real thing.

Voice: when the bot sends op 4, :meth:`World.update_voice_state` records its voice state with a
fresh ``session_id``, emits VOICE_STATE_UPDATE, asks the pluggable :class:`VoiceBackend` for a
``(token, endpoint)`` and emits VOICE_SERVER_UPDATE.  The steps are public
(``set_voice_state``, ``clear_voice_state``, ``emit_voice_state``, ``emit_voice_server``) so that
:mod:`musicbot.emulator.faults` can replay a move, a voice-server change or a kick with the
voice socket's close before or after the events, and a delay between them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs

DISCORD_EPOCH_MS: Final = 1_420_070_400_000  # 2015-01-01, the snowflake epoch

CHANNEL_TEXT: Final = 0
CHANNEL_VOICE: Final = 2

INTERACTION_COMMAND: Final = 2
INTERACTION_COMPONENT: Final = 3
INTERACTION_AUTOCOMPLETE: Final = 4

# Permission bits (developers/topics/permissions.mdx).
PERM_ADMINISTRATOR: Final = 1 << 3
PERM_VIEW_CHANNEL: Final = 1 << 10
PERM_SEND_MESSAGES: Final = 1 << 11
PERM_CONNECT: Final = 1 << 20
PERM_SPEAK: Final = 1 << 21
PERM_MOVE_MEMBERS: Final = 1 << 24
PERM_USE_APPLICATION_COMMANDS: Final = 1 << 31
DEFAULT_MEMBER_PERMISSIONS: Final = (
    PERM_VIEW_CHANNEL
    | PERM_SEND_MESSAGES
    | PERM_CONNECT
    | PERM_SPEAK
    | PERM_USE_APPLICATION_COMMANDS
)

Listener = Callable[[int | None, str, dict[str, Any]], None]
"""``(guild_id or None, event name, d)``: called for every dispatch the world emits."""


class VoiceBackend(Protocol):
    """Where the emulator's voice sessions live (the VOICE helper's voice server)."""

    def create_session(
        self, *, guild_id: int, channel_id: int, user_id: int, session_id: str
    ) -> tuple[str, str]:
        """Register a session; return ``(token, endpoint)`` for VOICE_SERVER_UPDATE.

        The endpoint may carry an explicit scheme (``"ws://127.0.0.1:PORT"``)."""
        ...

    def end_session(self, *, guild_id: int, user_id: int) -> None:
        """The user left voice in this guild; drop the session."""
        ...


class NullVoiceBackend:
    """Hands out tokens but runs no voice server (gateway-only tests)."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[int, int], tuple[int, str, str]] = {}

    def create_session(
        self, *, guild_id: int, channel_id: int, user_id: int, session_id: str
    ) -> tuple[str, str]:
        token = secrets.token_hex(8)
        self.sessions[(guild_id, user_id)] = (channel_id, session_id, token)
        return token, "ws://127.0.0.1:9"

    def end_session(self, *, guild_id: int, user_id: int) -> None:
        self.sessions.pop((guild_id, user_id), None)


DEFAULT_BITRATE: Final = 64_000  # a voice channel's default bitrate (bits/s)
ATTACHMENT_SIZE_LIMIT: Final = 10 * 1024 * 1024  # bytes; a guild without boosts


@attrs.define
class Channel:
    id: int
    guild_id: int
    name: str
    type: int
    position: int = 0
    flags: int = 0
    bitrate: int = DEFAULT_BITRATE  # voice only
    user_limit: int = 0  # voice only; 0 = no limit

    def payload(self) -> dict[str, Any]:
        """As GUILD_CREATE's ``channels`` carry it (``GuildChannelResponse``)."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(self.guild_id),
            "position": self.position,
            "flags": self.flags,
            "parent_id": None,
            "permission_overwrites": [],
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        if self.type == CHANNEL_VOICE:
            out.update(bitrate=self.bitrate, user_limit=self.user_limit, rtc_region=None)
        else:
            out["topic"] = None
        return out


@attrs.define
class Member:
    user_id: int
    name: str
    roles: list[int] = attrs.Factory(list)
    permissions: int = DEFAULT_MEMBER_PERMISSIONS
    locale: str = "en-US"
    bot: bool = False

    def user_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.user_id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
            "bot": self.bot,
        }

    def member_payload(self, *, with_permissions: bool = False) -> dict[str, Any]:
        """A guild member object.  Discord adds ``permissions`` only inside an interaction."""
        out: dict[str, Any] = {
            "user": self.user_payload(),
            "roles": [str(r) for r in self.roles],
            "nick": None,
            "joined_at": "2025-01-01T00:00:00.000000+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }
        if with_permissions:
            out["permissions"] = str(self.permissions)
        return out


@attrs.define
class VoiceState:
    user_id: int
    channel_id: int
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False


@attrs.define
class Guild:
    id: int
    name: str
    locale: str = "en-US"
    channels: dict[int, Channel] = attrs.Factory(dict)
    members: dict[int, Member] = attrs.Factory(dict)
    voice_states: dict[int, VoiceState] = attrs.Factory(dict)

    def channel_named(self, name: str) -> Channel:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise KeyError(name)

    @property
    def text_channel(self) -> Channel:
        return next(c for c in self.channels.values() if c.type == CHANNEL_TEXT)

    @property
    def voice_channel(self) -> Channel:
        return next(c for c in self.channels.values() if c.type == CHANNEL_VOICE)


@attrs.frozen(kw_only=True)
class InteractionRecord:
    """An interaction the world created: the REST side checks callbacks against these."""

    id: int
    token: str = attrs.field(repr=False)
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    payload: dict[str, Any] = attrs.field(repr=False, eq=False)


def shard_of(guild_id: int, num_shards: int) -> int:
    return (guild_id >> 22) % num_shards


class World:
    """The state one emulator serves: the application and its bot user, guilds and what the
    bot registered; every change Discord would announce is emitted to the subscribers."""

    def __init__(
        self,
        *,
        token: str = "emulator-bot-token",
        bot_name: str = "MusicBot",
        voice_backend: VoiceBackend | None = None,
        id_epoch_ms: int | None = None,
        member_permissions: bool = True,
    ) -> None:
        """``member_permissions=False`` leaves ``member.permissions`` out of interactions too
        (Discord-compatible servers do; a bot must then treat the member as unprivileged)."""
        self.token = token
        # ``id_epoch_ms`` (ms since Discord's epoch) makes ids the same on every run: the
        # demo world keeps its guild, channels and members across restarts.
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        self._ms = now_ms if id_epoch_ms is None else id_epoch_ms
        self.member_permissions = member_permissions
        self.attachment_size_limit = ATTACHMENT_SIZE_LIMIT
        self._increment = 0
        self.application_id = self.new_id()
        self.bot_user = Member(user_id=self.new_id(), name=bot_name, bot=True)
        self.guilds: dict[int, Guild] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.command_ids: dict[str, int] = {}
        # Commands the application registered (the REST PUTs): scope → {name: id}.  Scope None
        # is global; a guild id scopes a guild's commands.
        self.registered: dict[int | None, dict[str, int]] = {}
        self.voice_backend: VoiceBackend = voice_backend or NullVoiceBackend()
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------------ ids, events

    def new_id(self, *, shard: int | None = None, num_shards: int = 1) -> int:
        """A fresh snowflake; with ``shard`` its timestamp is chosen to route to that shard."""
        self._ms += 1
        if shard is not None:
            while self._ms % num_shards != shard:
                self._ms += 1
        self._increment = (self._increment + 1) % 4096
        return (self._ms << 22) | self._increment

    @property
    def bot_user_id(self) -> int:
        return self.bot_user.user_id

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every emitted dispatch; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, guild_id: int | None, name: str, d: dict[str, Any]) -> None:
        """Hand the dispatch ``name`` with payload ``d`` to every subscriber, now; ``guild_id``
        routes it to a shard (``None``: shard 0)."""
        for listener in list(self._listeners):
            listener(guild_id, name, d)

    # ------------------------------------------------------------------ guilds

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        guild_id: int | None = None,
        shard: int | None = None,
        num_shards: int = 1,
        text_channels: Sequence[str] = ("general",),
        voice_channels: Sequence[str] = ("Music",),
        locale: str = "en-US",
    ) -> Guild:
        """Add a guild (the bot is a member).  Emits GUILD_CREATE to a connected shard."""
        gid = guild_id if guild_id is not None else self.new_id(shard=shard, num_shards=num_shards)
        guild = Guild(id=gid, name=name, locale=locale)
        for kind, names in ((CHANNEL_TEXT, text_channels), (CHANNEL_VOICE, voice_channels)):
            for position, ch_name in enumerate(names):
                ch = Channel(
                    id=self.new_id(), guild_id=gid, name=ch_name, type=kind, position=position
                )
                guild.channels[ch.id] = ch
        guild.members[self.bot_user_id] = self.bot_user
        self.guilds[gid] = guild
        self.emit(gid, "GUILD_CREATE", self.guild_create_payload(gid))
        return guild

    def remove_guild(self, guild_id: int) -> None:
        """The bot was removed from the guild: GUILD_DELETE without ``unavailable``."""
        guild = self.guilds.pop(guild_id)
        for user_id in guild.voice_states:
            self.voice_backend.end_session(guild_id=guild_id, user_id=user_id)
        self.emit(guild_id, "GUILD_DELETE", {"id": str(guild_id)})

    def delete_channel(self, guild_id: int, channel_id: int) -> None:
        """Delete a channel; members in it (if voice) are disconnected first."""
        guild = self.guilds[guild_id]
        for vs in list(guild.voice_states.values()):
            if vs.channel_id == channel_id:
                self.update_voice_state(guild_id, vs.user_id, None)
        ch = guild.channels.pop(channel_id)
        self.emit(
            guild_id,
            "CHANNEL_DELETE",
            {"id": str(ch.id), "guild_id": str(guild_id), "type": ch.type, "name": ch.name},
        )

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        """The guild's GUILD_CREATE payload as it stands now: channels, members and voice
        states included, as READY's follow-up and a new guild carry them."""
        g = self.guilds[guild_id]
        return {
            "id": str(g.id),
            "name": g.name,
            "preferred_locale": g.locale,
            "unavailable": False,
            "member_count": len(g.members),
            "large": False,
            "joined_at": "2025-01-01T00:00:00.000000+00:00",
            "roles": [{"id": str(g.id), "name": "@everyone", "permissions": "0"}],
            "channels": [c.payload() for c in g.channels.values()],
            "members": [m.member_payload() for m in g.members.values()],
            "voice_states": [self._voice_state_payload(g, vs) for vs in g.voice_states.values()],
            "threads": [],
        }

    def guilds_for_shard(self, shard_id: int, num_shards: int) -> list[int]:
        """The ids of the guilds Discord's routing (``shard_of``) gives to shard ``shard_id``
        of ``num_shards``."""
        return [gid for gid in self.guilds if shard_of(gid, num_shards) == shard_id]

    # ------------------------------------------------------------------ members, voice

    def add_member(
        self,
        guild_id: int,
        name: str = "listener",
        *,
        user_id: int | None = None,
        roles: Sequence[int] = (),
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        locale: str = "en-US",
    ) -> Member:
        """Add a member to the guild (a fresh id unless ``user_id``), not in voice.  No event
        is emitted: the bot meets members in interactions and voice states."""
        member = Member(
            user_id=user_id if user_id is not None else self.new_id(),
            name=name,
            roles=list(roles),
            permissions=permissions,
            locale=locale,
        )
        self.guilds[guild_id].members[member.user_id] = member
        return member

    def _voice_state_payload(
        self, guild: Guild, vs: VoiceState, *, left: bool = False
    ) -> dict[str, Any]:
        member = guild.members.get(vs.user_id)
        return {
            "guild_id": str(guild.id),
            "channel_id": None if left else str(vs.channel_id),
            "user_id": str(vs.user_id),
            "session_id": vs.session_id,
            "member": member.member_payload() if member else None,
            "deaf": False,
            "mute": False,
            "self_deaf": vs.self_deaf,
            "self_mute": vs.self_mute,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }

    def voice_channel_of(self, guild_id: int, user_id: int) -> int | None:
        """The voice channel the user is in, in the guild, or ``None`` when not in voice."""
        vs = self.guilds[guild_id].voice_states.get(user_id)
        return vs.channel_id if vs else None

    def set_voice_state(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> VoiceState:
        """Record a join or move with a fresh session id; emits nothing."""
        guild = self.guilds[guild_id]
        if channel_id not in guild.channels or guild.channels[channel_id].type != CHANNEL_VOICE:
            raise KeyError(f"no voice channel {channel_id} in guild {guild_id}")
        vs = VoiceState(user_id, channel_id, secrets.token_hex(16), self_mute, self_deaf)
        guild.voice_states[user_id] = vs
        return vs

    def clear_voice_state(self, guild_id: int, user_id: int) -> VoiceState | None:
        """Take the user out of voice (returns the old state); emits nothing."""
        return self.guilds[guild_id].voice_states.pop(user_id, None)

    def emit_voice_state(self, guild_id: int, vs: VoiceState, *, left: bool = False) -> None:
        """Emit VOICE_STATE_UPDATE for ``vs``; ``left`` sends ``channel_id: null`` (the user
        left voice) while keeping the session id."""
        guild = self.guilds[guild_id]
        self.emit(guild_id, "VOICE_STATE_UPDATE", self._voice_state_payload(guild, vs, left=left))

    def emit_voice_server(self, guild_id: int, token: str, endpoint: str | None) -> None:
        """Emit VOICE_SERVER_UPDATE with ``token`` and ``endpoint`` (``None``, as Discord
        sends it: the voice server went away, another update follows)."""
        self.emit(
            guild_id,
            "VOICE_SERVER_UPDATE",
            {"token": token, "guild_id": str(guild_id), "endpoint": endpoint},
        )

    def move_member(self, guild_id: int, user_id: int, channel_id: int | None) -> None:
        """A (human) member joins, moves or (``None``) leaves voice: VOICE_STATE_UPDATE."""
        self.update_voice_state(guild_id, user_id, channel_id)

    def update_voice_state(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> None:
        """Apply a voice state change and emit what Discord would.

        For the bot (its op 4) a join or move gets a fresh session id and a voice server
        (VOICE_STATE_UPDATE, then VOICE_SERVER_UPDATE); a leave ends the voice session.
        """
        old = self.guilds[guild_id].voice_states.get(user_id)
        is_bot = user_id == self.bot_user_id
        if channel_id is None:
            if self.clear_voice_state(guild_id, user_id) is None:
                return
            assert old is not None
            if is_bot:
                self.voice_backend.end_session(guild_id=guild_id, user_id=user_id)
            self.emit_voice_state(guild_id, old, left=True)
            return
        vs = self.set_voice_state(
            guild_id, user_id, channel_id, self_mute=self_mute, self_deaf=self_deaf
        )
        self.emit_voice_state(guild_id, vs)
        if is_bot:
            if old is not None:
                self.voice_backend.end_session(guild_id=guild_id, user_id=user_id)
            token, endpoint = self.voice_backend.create_session(
                guild_id=guild_id, channel_id=channel_id, user_id=user_id, session_id=vs.session_id
            )
            self.emit_voice_server(guild_id, token, endpoint)

    # ------------------------------------------------------------------ interactions

    def register_commands(
        self, guild_id: int | None, commands: Sequence[Mapping[str, Any]]
    ) -> None:
        """The application's command PUT for ``guild_id`` (None: global) as the REST side
        stored it; later interactions carry these ids (and ``data.guild_id`` for guild ones)."""
        self.registered[guild_id] = {
            str(c["name"]): int(c["id"]) for c in commands if int(c.get("type") or 1) == 1
        }

    def command_id(self, name: str, guild_id: int | None = None) -> int:
        """The id Discord would put in ``data.id``: the registered one when there is one."""
        if guild_id is not None and name in self.registered.get(guild_id, {}):
            return self.registered[guild_id][name]
        if name in self.registered.get(None, {}):
            return self.registered[None][name]
        if name not in self.command_ids:
            self.command_ids[name] = self.new_id()
        return self.command_ids[name]

    def _interaction(
        self,
        *,
        kind: int,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        data: dict[str, Any],
        locale: str | None,
        extra: Mapping[str, Any] | None = None,
    ) -> InteractionRecord:
        guild = self.guilds[guild_id]
        member = guild.members[user_id]
        channel = guild.channels[channel_id] if channel_id else guild.text_channel
        iid = self.new_id()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": {"id": str(channel.id), "type": channel.type, "guild_id": str(guild_id)},
            "member": member.member_payload(with_permissions=self.member_permissions),
            "locale": locale or member.locale,
            "guild_locale": guild.locale,
            "app_permissions": str(DEFAULT_MEMBER_PERMISSIONS),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
            "data": data,
            **(extra or {}),
        }
        record = InteractionRecord(
            id=iid,
            token=token,
            type=kind,
            guild_id=guild_id,
            channel_id=channel.id,
            user_id=user_id,
            payload=payload,
        )
        self.interactions[iid] = record
        return record

    def command_interaction(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        options: Sequence[Mapping[str, Any]] | Mapping[str, Any] = (),
        *,
        channel_id: int | None = None,
        locale: str | None = None,
        autocomplete: str | None = None,
    ) -> InteractionRecord:
        """A slash command (type 2), or autocomplete (type 4) focused on option ``autocomplete``.

        ``options`` is Discord's list of option objects, or a ``{name: value}`` mapping whose
        option types are inferred (str 3, int 4, bool 5, float 10).
        """
        opts = _options(options)
        if autocomplete is not None:
            for o in opts:
                if o["name"] == autocomplete:
                    o["focused"] = True
        data: dict[str, Any] = {
            "id": str(self.command_id(name, guild_id)),
            "name": name,
            "type": 1,
            "options": opts,
        }
        if name in self.registered.get(guild_id, {}):
            data["guild_id"] = str(guild_id)  # Discord sets it for guild-registered commands
        return self._interaction(
            kind=INTERACTION_AUTOCOMPLETE if autocomplete is not None else INTERACTION_COMMAND,
            guild_id=guild_id,
            user_id=user_id,
            channel_id=channel_id,
            data=data,
            locale=locale,
        )

    def component_interaction(
        self,
        guild_id: int,
        user_id: int,
        custom_id: str,
        *,
        component_type: int = 2,
        values: Sequence[str] = (),
        message_id: int | None = None,
        channel_id: int | None = None,
        locale: str | None = None,
        message: Mapping[str, Any] | None = None,
    ) -> InteractionRecord:
        """A button (component_type 2) or select menu (3, with ``values``) press: type 3.

        ``message`` is the message the component sits on, as the REST side stores it (the
        emulator passes it); without one a bare message with ``message_id`` stands in."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if component_type != 2:
            data["values"] = list(values)
        if message is None:
            msg_id = message_id if message_id is not None else self.new_id()
            message = {"id": str(msg_id), "components": [], "content": ""}
        return self._interaction(
            kind=INTERACTION_COMPONENT,
            guild_id=guild_id,
            user_id=user_id,
            channel_id=channel_id,
            data=data,
            locale=locale,
            extra={"message": dict(message)},
        )


def _options(options: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[dict[str, Any]]:
    if isinstance(options, Mapping):
        out: list[dict[str, Any]] = []
        for name, value in options.items():
            if isinstance(value, bool):
                kind = 5
            elif isinstance(value, int):
                kind = 4
            elif isinstance(value, float):
                kind = 10
            else:
                kind, value = 3, str(value)
            out.append({"name": name, "type": kind, "value": value})
        return out
    return [dict(o) for o in options]


# The demo's ids start from this instant (ms since Discord's epoch, 2025-01-01), so they are the
# same on every run: saved playlists, settings and sessions find their guild again.
DEMO_EPOCH_MS: Final = 1_735_689_600_000 - DISCORD_EPOCH_MS
PERM_MANAGE_GUILD: Final = 1 << 5
DEMO_GUILD: Final = "Demo server"
DEMO_TEXT_CHANNEL: Final = "music"
DEMO_VOICE_CHANNEL: Final = "Lounge"


@attrs.frozen(kw_only=True)
class DemoMember:
    """Who you can be in the demo: a DJ (manages the server), a plain member, a Vietnamese one."""

    key: str
    name: str
    role: str
    locale: str = "en-US"
    permissions: int = DEFAULT_MEMBER_PERMISSIONS


DEMO_MEMBERS: Final[tuple[DemoMember, ...]] = (
    DemoMember(
        key="dj",
        name="Alex",
        role="DJ (manages the server)",
        permissions=DEFAULT_MEMBER_PERMISSIONS | PERM_MANAGE_GUILD,
    ),
    DemoMember(key="member", name="Sam", role="member"),
    DemoMember(key="vi", name="Linh", role="thành viên (tiếng Việt)", locale="vi"),
)


def demo_world(
    *, user_name: str = "Alex", locale: str = "en-US", voice_backend: VoiceBackend | None = None
) -> tuple[World, Guild, Member]:
    """The world of ``make run`` without a token, the same on every run (stable ids).

    One guild with a text channel and a voice channel in which the three demo members sit
    (see ``DEMO_MEMBERS``; the first, the DJ, is named ``user_name`` and speaks
    ``locale``).  Returns the world, the guild and the DJ, whose ears the demo's listener is.
    """
    world = World(voice_backend=voice_backend, id_epoch_ms=DEMO_EPOCH_MS)
    guild = world.add_guild(
        DEMO_GUILD, text_channels=(DEMO_TEXT_CHANNEL,), voice_channels=(DEMO_VOICE_CHANNEL,)
    )
    members = []
    for i, who in enumerate(DEMO_MEMBERS):
        members.append(
            world.add_member(
                guild.id,
                user_name if i == 0 else who.name,
                permissions=who.permissions,
                locale=locale if i == 0 else who.locale,
            )
        )
    for member in members:
        world.move_member(guild.id, member.user_id, guild.voice_channel.id)
    return world, guild, members[0]
