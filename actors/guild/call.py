"""The call room of the guild actor: where the bot wants to be in voice, and the connection.

Theory.  :class:`Call` is the only owner of the channel the bot wants to be in and of the
:class:`~musicbot.voice.VoiceConnection`; the actor's loop is its only caller.  The connection
itself decides what a voice close means (``musicbot.voice``: a 4014/4022 waits, bounded by
``[voice] move_timeout``, for the gateway's word), and :meth:`Call.interpret` turns what it
reports into what the guild must do, one of:

* :class:`Hold` — the call is reconnecting (a resume, a move, a new voice server): frames
  would be lost, so the player is paused at its exact position;
* :class:`Up` — connected (again): ``after_hold`` says the same entry goes on where it was;
* :class:`MovedTo` — someone dragged the bot to another channel: only the channel changes,
  nothing "left";
* :class:`Gone` — the call has ended (kicked, channel deleted, no word from the gateway).

Every VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE for the bot goes to the connection at all
times (:meth:`Call.on_member_voice`, :meth:`Call.on_voice_server`), whatever state it is in: the
connection, not the call, knows which ones are stale.  The members' voice channels (copied from
the router when the actor starts, then kept up to date) decide who is listening.

The call does not start tasks: :meth:`Call.open` builds a connection and hands its run function and
event channel to the actor, which starts them in the nursery it never hands out (rule 14).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio

from musicbot.config import Config
from musicbot.voice import (
    Connected,
    Disconnected,
    Moved,
    Reconnecting,
    StopReason,
    UpdateVoiceState,
    VoiceConnection,
    VoiceEvent,
    VoiceSettings,
)

VOICE_EVENTS_BUFFER = 16  # the connection waits when it is full (lossless)


@attrs.frozen
class Hold:
    """The call is reconnecting: pause the player at its exact position (frames would be
    lost)."""


@attrs.frozen
class Up:
    """Connected (again) in ``channel_id``; ``resumed``: the voice session was resumed, not
    new; ``after_hold``: a ``Hold`` came first, so the held entry goes on where it was."""

    channel_id: int
    resumed: bool
    after_hold: bool


@attrs.frozen
class MovedTo:
    """Someone dragged the bot to ``channel_id``: only the channel changes."""

    channel_id: int


@attrs.frozen
class Gone:
    """The call has ended for ``reason`` (not on purpose); the connection is closed."""

    reason: StopReason
    channel_id: int | None  # where the bot was


CallOutcome = Hold | Up | MovedTo | Gone | None  # None: nothing for the guild to do


@attrs.frozen
class Opened:
    """A new connection: the actor runs ``run`` and reads ``events`` in its nursery."""

    voice: VoiceConnection
    run: Callable[[], Awaitable[None]]
    events: trio.MemoryReceiveChannel[VoiceEvent]


class Call:
    """The guild's voice call: the channel the bot wants, its connection and who is in voice.
    Only the guild actor's loop calls it, so it needs no locks."""

    def __init__(
        self,
        *,
        guild_id: int,
        bot_id: Callable[[], int],
        update_voice_state: UpdateVoiceState,
        config: Config,
        members: dict[int, int],
    ) -> None:
        self.guild_id = guild_id
        self.bot_id = bot_id
        self.update_voice_state = update_voice_state
        self.config = config
        self.members = members  # user id -> voice channel id, the bot's own included
        self.channel_id: int | None = None  # where the bot is (or is going)
        self.connected = False
        self.holding = False  # a Hold was reported and no Up since
        self.voice: VoiceConnection | None = None
        self.done = trio.Event()  # set when the current connection's task has ended
        self.alone_since: float | None = None

    # -- who is there ---------------------------------------------------------------------

    def listeners(self) -> list[int]:
        """Members (not the bot) in the bot's voice channel."""
        if self.channel_id is None:
            return []
        bot = self.bot_id()
        return [u for u, c in self.members.items() if c == self.channel_id and u != bot]

    def refresh_alone(self) -> None:
        """Start the ``alone_since`` clock when the bot's channel has no listener (keeping an
        earlier start), clear it when someone is there or the bot wants no channel."""
        if self.channel_id is None or self.listeners():
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = trio.current_time()

    # -- the connection -------------------------------------------------------------------

    def open(self) -> Opened | None:
        """A connection if there is none yet (the actor starts its tasks), else None."""
        if self.voice is not None:
            return None
        send, receive = trio.open_memory_channel[VoiceEvent](VOICE_EVENTS_BUFFER)
        voice = VoiceConnection(
            guild_id=self.guild_id,
            user_id=self.bot_id(),
            update_voice_state=self.update_voice_state,
            events=send,
            settings=VoiceSettings.from_config(self.config),  # move_timeout, ca_file
        )
        self.voice = voice
        done = self.done = trio.Event()

        async def run() -> None:
            try:
                await voice.run()
            finally:
                done.set()

        return Opened(voice=voice, run=run, events=receive)

    def join(self, channel_id: int) -> None:
        """Ask to be in ``channel_id`` (a no-op when already connected there)."""
        assert self.voice is not None, "open() first"
        if self.channel_id != channel_id or not self.connected:
            self.channel_id = channel_id
            self.voice.join(channel_id)
        self.refresh_alone()

    def leave(self) -> None:
        """Leave on purpose (op 4 with no channel); the connection reports LEFT."""
        if self.voice is not None and self.channel_id is not None:
            self.voice.leave()
        self.channel_id = None
        self.connected = False
        self.holding = False
        self.alone_since = None

    def close(self) -> None:
        """End the connection's task; a later join builds a new connection."""
        if self.voice is not None:
            self.voice.close()
        self.voice = None

    # -- the gateway's word (lossless: always forwarded) ------------------------------------

    def on_member_voice(self, user_id: int, channel_id: int | None, session_id: str) -> bool:
        """Any member's voice state; True when the bot itself was moved by someone."""
        if channel_id is None:
            self.members.pop(user_id, None)
        else:
            self.members[user_id] = channel_id
        moved = False
        if user_id == self.bot_id():
            if self.voice is not None:
                self.voice.on_voice_state_update(session_id=session_id, channel_id=channel_id)
            if channel_id is not None and channel_id != self.channel_id:
                self.channel_id = channel_id  # moved by someone: follow
                moved = True
        self.refresh_alone()
        return moved

    def on_voice_server(self, token: str, endpoint: str | None) -> None:
        """VOICE_SERVER_UPDATE for the guild, passed to the connection as is (it knows which
        are stale); dropped when there is no connection."""
        if self.voice is not None:
            self.voice.on_voice_server_update(token=token, endpoint=endpoint)

    def on_gateway_ready(self) -> None:
        """A new gateway session: a connection waiting for op 4's answer (or for a new server
        after 4014/4022) joins again on it; one that is connected ignores it."""
        if self.voice is not None:
            self.voice.on_gateway_ready()

    # -- what the connection says -------------------------------------------------------------

    def interpret(self, event: VoiceEvent) -> CallOutcome:
        """Update the call's state from one connection event and say what the guild must do
        (see the module docstring); ``None`` when nothing, e.g. a move we already knew of."""
        match event:
            case Connected(channel_id=channel_id, resumed=resumed):
                self.connected = True
                self.channel_id = channel_id
                after_hold, self.holding = self.holding, False
                self.refresh_alone()
                return Up(channel_id=channel_id, resumed=resumed, after_hold=after_hold)
            case Reconnecting():
                self.holding = True
                return Hold()
            case Moved(channel_id=channel_id):
                if channel_id == self.channel_id:
                    return None  # the gateway's VOICE_STATE_UPDATE told us already
                self.channel_id = channel_id
                self.alone_since = None
                self.refresh_alone()
                return MovedTo(channel_id=channel_id)
            case Disconnected(reason=reason):
                was = self.channel_id
                self.connected = False
                self.holding = False
                if reason is StopReason.LEFT:
                    return None  # we asked for it
                self.close()
                self.channel_id = None
                self.alone_since = None
                return Gone(reason=reason, channel_id=was)
        return None


__all__ = ["Call", "CallOutcome", "Gone", "Hold", "MovedTo", "Opened", "Up"]
