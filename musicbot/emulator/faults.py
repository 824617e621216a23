"""Voice faults on demand: what Discord does to a call, in the order and timing a test picks.

Theory.  On Discord a move (a moderator drags the bot) or a voice-server change (Discord moves
the call) reaches the bot on two sockets at once: the main gateway carries the news
(VOICE_STATE_UPDATE with the new channel and session id; VOICE_SERVER_UPDATE with a new token
and endpoint) and the old voice socket is closed with 4014 or 4022.  Nothing orders the two.
``order="events_first"`` sends the gateway's events, waits ``delay`` seconds, then closes the
old socket; ``order="close_first"`` closes first, waits, then sends the events.  The old
session leaves its call at once (Discord ends it either way); only its socket's close waits.
The close reaches the client on another socket than the events, so which one it *handles*
first is a race, as on Discord; a test that needs one order for sure passes ``between``, an
async callable awaited after the first half (e.g. "until the bot reported the close").

A kick is the same pair without a new server: VOICE_STATE_UPDATE with ``channel_id: null``.
Other faults: a close with any code on demand (4006 also ends the session, as on Discord, so a
resume fails; 4015 keeps it), lost UDP datagrams (a count, or a rate drawn from this object's
seeded ``random``), and MLS group members (listeners) joining or leaving mid-song.

Everything random comes from ``self.random`` (``random.Random(seed)``), so a failing scenario
replays from its seed; ``self.history`` lists what was injected, in order.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Literal

import trio

from musicbot.emulator.voice import CLOSE_DISCONNECTED, CLOSE_SESSION_INVALID, VoiceServer
from musicbot.emulator.voice_call import Listener
from musicbot.emulator.voice_session import ServerSession
from musicbot.emulator.world import VoiceState, World

Order = Literal["events_first", "close_first"]
EVENTS_FIRST: Final = "events_first"
CLOSE_FIRST: Final = "close_first"
ORDERS: Final[tuple[Order, ...]] = (EVENTS_FIRST, CLOSE_FIRST)
Between = Callable[[], Awaitable[object]]

# Closes after which Discord no longer knows the session (a resume would get 4006 again).
SESSION_ENDING_CODES: Final = frozenset({CLOSE_SESSION_INVALID, 4009})
CLOSE_CALL_TERMINATED: Final = 4022
CLOSE_SERVER_CRASHED: Final = 4015
RANDOM_FAULTS: Final = ("move", "server", str(CLOSE_SERVER_CRASHED), "4006", "drop")


class VoiceFaults:
    """Reachable as ``emu.faults`` when the emulator runs its own voice server."""

    def __init__(self, world: World, voice: VoiceServer, *, seed: int = 0) -> None:
        self.world = world
        self.voice = voice
        self.seed = seed
        self.random = random.Random(seed)
        self.history: list[str] = []

    # -- moves, server changes, kicks ----------------------------------------------------------

    async def move_bot(
        self,
        guild_id: int,
        channel_id: int,
        *,
        order: Order = EVENTS_FIRST,
        delay: float = 0.0,
        code: int = CLOSE_DISCONNECTED,
        between: Between | None = None,
    ) -> None:
        """Someone moves the bot to ``channel_id``: a new session id, a new token."""
        bot = self.world.bot_user_id
        before = self._bot_state(guild_id)

        def events() -> None:
            vs = self.world.set_voice_state(
                guild_id,
                bot,
                channel_id,
                self_mute=before.self_mute,
                self_deaf=before.self_deaf,
            )
            self.world.emit_voice_state(guild_id, vs)
            token, endpoint = self.voice.create_session(
                guild_id=guild_id, channel_id=channel_id, user_id=bot, session_id=vs.session_id
            )
            self.world.emit_voice_server(guild_id, token, endpoint)

        self._note(f"move_bot {guild_id} -> {channel_id} {order} delay={delay} code={code}")
        await self._ordered(guild_id, events, order=order, delay=delay, code=code, between=between)

    async def change_voice_server(
        self,
        guild_id: int,
        *,
        order: Order = EVENTS_FIRST,
        delay: float = 0.0,
        code: int = CLOSE_DISCONNECTED,
        new_endpoint: bool = True,
        between: Between | None = None,
    ) -> str:
        """Discord moves the call to another voice server (a new endpoint, unless
        ``new_endpoint`` is False, and a new token); the session id stays.  Returns the
        endpoint the new VOICE_SERVER_UPDATE names."""
        bot = self.world.bot_user_id
        vs = self._bot_state(guild_id)
        endpoint = await self.voice.open_endpoint() if new_endpoint else self.voice.endpoint

        def events() -> None:
            token, _ = self.voice.create_session(
                guild_id=guild_id,
                channel_id=vs.channel_id,
                user_id=bot,
                session_id=vs.session_id,
                endpoint=endpoint,
            )
            self.world.emit_voice_server(guild_id, token, endpoint)

        self._note(f"change_voice_server {guild_id} {order} delay={delay} code={code}")
        await self._ordered(guild_id, events, order=order, delay=delay, code=code, between=between)
        return endpoint

    async def kick_bot(
        self,
        guild_id: int,
        *,
        order: Order = EVENTS_FIRST,
        delay: float = 0.0,
        code: int = CLOSE_DISCONNECTED,
        between: Between | None = None,
    ) -> None:
        """A moderator disconnects the bot: VOICE_STATE_UPDATE without a channel."""
        bot = self.world.bot_user_id
        self._bot_state(guild_id)

        def events() -> None:
            old = self.world.clear_voice_state(guild_id, bot)
            if old is not None:
                self.world.emit_voice_state(guild_id, old, left=True)

        self._note(f"kick_bot {guild_id} {order} delay={delay} code={code}")
        await self._ordered(guild_id, events, order=order, delay=delay, code=code, between=between)

    async def _ordered(
        self,
        guild_id: int,
        events: Callable[[], None],
        *,
        order: Order,
        delay: float,
        code: int,
        between: Between | None,
    ) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
        if delay < 0:
            raise ValueError("delay must be 0 or more")
        old = self.voice.detach_session(guild_id=guild_id, user_id=self.world.bot_user_id)
        if order == CLOSE_FIRST:
            await self._close(old, code)
        else:
            events()
        if between is not None:
            await between()
        await trio.sleep(delay)
        if order == CLOSE_FIRST:
            events()
        else:
            await self._close(old, code)

    async def _close(self, session: ServerSession | None, code: int) -> None:
        if session is not None:
            await self.voice.close_detached(session, code)

    # -- the voice socket ----------------------------------------------------------------------

    async def close_voice(self, guild_id: int, code: int) -> None:
        """Close the bot's voice socket with ``code`` now.  4006/4009 also end the session
        (a resume is refused); other codes (4015: "voice server crashed") keep it."""
        bot = self.world.bot_user_id
        self._note(f"close_voice {guild_id} code={code}")
        if code in SESSION_ENDING_CODES:
            await self._close(self.voice.detach_session(guild_id=guild_id, user_id=bot), code)
        else:
            await self.voice.close_client(guild_id, bot, code)

    # -- media and the MLS group ---------------------------------------------------------------

    def lose_udp(self, count: int) -> None:
        """The next ``count`` RTP datagrams from the bot are lost."""
        self._note(f"lose_udp {count}")
        self.voice.lose_packets(count)

    def lose_udp_randomly(self, rate: float) -> None:
        """From now on each datagram is lost with probability ``rate`` (0 stops it), drawn
        from this object's seeded generator."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._note(f"lose_udp_randomly {rate}")
        self.voice.lose_randomly(rate, self.random)

    def peer_joins(self, guild_id: int, channel_id: int, user_id: int) -> Listener:
        """A member (a libdave listener) joins the call: an MLS add, and VOICE_STATE_UPDATE
        if the member exists in the world."""
        self._note(f"peer_joins {guild_id} {channel_id} {user_id}")
        listener = self.voice.add_listener(
            guild_id=guild_id, channel_id=channel_id, user_id=user_id
        )
        if user_id in self.world.guilds[guild_id].members:
            self.world.move_member(guild_id, user_id, channel_id)
        return listener

    def peer_leaves(self, guild_id: int, channel_id: int, user_id: int) -> None:
        """A member leaves the call mid-song: an MLS removal (a new epoch), and
        VOICE_STATE_UPDATE without a channel if the world has it in voice."""
        self._note(f"peer_leaves {guild_id} {channel_id} {user_id}")
        self.voice.remove_listener(guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        if self.world.guilds[guild_id].voice_states.get(user_id) is not None:
            self.world.move_member(guild_id, user_id, None)

    # -- randomness ----------------------------------------------------------------------------

    async def random_voice_fault(
        self, guild_id: int, *, channels: Sequence[int], max_delay: float = 0.3
    ) -> str:
        """One fault drawn from ``self.random``: a move to another of ``channels`` or a
        voice-server change (random order, delay up to ``max_delay``, 4014 or 4022), a close
        with 4015 or 4006, or a dropped socket.  Returns what it did (also in ``history``).
        The bot must be in voice; a caller waits for it to be connected again before the next."""
        kind = self.random.choice(RANDOM_FAULTS)
        order, delay = self.pick_order(), self.pick_delay(max_delay)
        code = self.random.choice((CLOSE_DISCONNECTED, CLOSE_CALL_TERMINATED))
        here = self._bot_state(guild_id).channel_id
        elsewhere = [c for c in channels if c != here]
        if kind == "move" and elsewhere:
            target = self.random.choice(elsewhere)
            await self.move_bot(guild_id, target, order=order, delay=delay, code=code)
        elif kind in ("move", "server"):
            new = self.random.random() < 0.5
            await self.change_voice_server(
                guild_id, order=order, delay=delay, code=code, new_endpoint=new
            )
        elif kind == "drop":
            self._note(f"drop_voice {guild_id}")
            await self.voice.drop_client(guild_id, self.world.bot_user_id)
        else:
            await self.close_voice(guild_id, int(kind))
        return self.history[-1]

    def pick_order(self) -> Order:
        """``events_first`` or ``close_first``, drawn from the seeded ``self.random``."""
        return self.random.choice(ORDERS)

    def pick_delay(self, max_delay: float) -> float:
        """A delay between 0 and ``max_delay`` seconds from ``self.random``, rounded to the
        millisecond so ``history`` reads the same on a replay."""
        return round(self.random.uniform(0.0, max_delay), 3)

    # -- internals -----------------------------------------------------------------------------

    def _bot_state(self, guild_id: int) -> VoiceState:
        vs = self.world.guilds[guild_id].voice_states.get(self.world.bot_user_id)
        if vs is None:
            raise LookupError(f"the bot is not in voice in guild {guild_id}")
        return vs

    def _note(self, what: str) -> None:
        self.history.append(what)
