"""The voice connection of one guild: an explicit state machine plus the player's frame sink.

Theory.  Joining needs two main-gateway events after our op 4: VOICE_STATE_UPDATE (our
``session_id``) and VOICE_SERVER_UPDATE (``token`` + ``endpoint``).  The owner (the guild actor)
feeds both in; this object sends op 4 through the ``update_voice_state`` callable it was given.
Every decision is made by one task, ``run``, reading one inbox: the owner's requests, the
gateway events and the outcomes of socket tasks.  Each socket task carries the *generation* it
was started in; anything it reports after the generation moved on (a move, a new server, a
leave) is a no-op.  After a socket ends, ``closecodes.classify`` picks one of: buffered resume
(op 7, same session), full rejoin (new op 4), stop (tell the owner why), back off and rejoin,
or wait for the gateway (4014/4022).
A new token or a channel move always makes a new session; an old one is never reused.

Moves and voice-server changes.  Discord announces them on the main gateway (a
VOICE_STATE_UPDATE with the new channel and session id; a VOICE_SERVER_UPDATE with the new
token and endpoint) and closes the old voice socket with 4014 or 4022, in either order ("a race
between the main ws event and the voice ws closing", discord.py).  Events first: the state or
server update moves the generation on and connects fresh, so the old socket's close arrives
stale and is ignored.  Close first: we neither reconnect that socket nor send op 4; the
connection waits in ``AWAITING_GATEWAY`` for up to ``move_timeout``: a server update with an
endpoint connects fresh (``Connected(resumed=False)``), a state update without a channel is a
kick (``Disconnected(KICKED)``), and silence ends it (``KICKED`` after 4014, then nothing is
sent, since we are out already; ``CALL_TERMINATED`` after 4022, then op 4 with no channel, to be
sure the gateway agrees).  A move that someone else made is reported as ``Moved``.

Control is lossless (architecture rule 13): events to the owner are sent with a waiting
``send`` on its channel, a socket task waits for room to report its outcome, and the owner's
posts (``join``, ``on_voice_state_update``, ...) never block: behind a full inbox they wait in
an ordered backlog that the run task drains once the inbox is empty.

Ownership: connection state (``state``, the session, the generation) changes only in ``run``.
The DAVE session and the RTP/speaking flags are shared by the socket task (gateway ops) and the
player task (``send_frame``); both run on the one Trio thread and neither awaits between
reading and updating them, so every access is atomic, and no lock is needed.

The frame sink side is called by the process's voice sender (``send_frame_nowait``, one
synchronous send per tick; see :mod:`musicbot.voice.sender`) and by the player task
(``set_speaking``; ``send_frame`` is the awaitable single-frame form).  It never
waits for a reconnect: while not connected, or before the DAVE group exists, frames are dropped
and counted, and the RTP timestamp still advances so receivers see the gap in time.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Awaitable, Callable
from typing import Final, assert_never

import structlog
import trio

from musicbot.errors import MusicBotError
from musicbot.models.media import SILENCE_FRAME, SILENCE_FRAMES_ON_STOP
from musicbot.voice import opcodes as op
from musicbot.voice.closecodes import CloseAction, StopReason, classify
from musicbot.voice.events import (
    Connected,
    Disconnected,
    Moved,
    Reconnecting,
    VoiceEvent,
    VoiceState,
    VoiceStats,
)
from musicbot.voice.gateway import ConnectionLost
from musicbot.voice.messages import (
    ConnectionMsg,
    GatewayReady,
    Join,
    Leave,
    Mailbox,
    ServerUpdate,
    SocketConnected,
    SocketEnded,
    StateUpdate,
)
from musicbot.voice.rtp import RtpPacketizer, send_nowait
from musicbot.voice.session import (
    Credentials,
    DaveError,
    VoiceHandshakeError,
    VoiceSession,
    speaking_payload,
)
from musicbot.voice.settings import VoiceSettings

log = structlog.get_logger(__name__)

UpdateVoiceState = Callable[[int, int | None, bool, bool], Awaitable[None]]
DEFAULT_SETTINGS: Final = VoiceSettings()


class VoiceConnection:
    """One guild's voice connection.  Start ``run`` in the owner's nursery, then ``join``."""

    def __init__(
        self,
        *,
        guild_id: int,
        user_id: int,
        update_voice_state: UpdateVoiceState,
        events: trio.MemorySendChannel[VoiceEvent],
        settings: VoiceSettings = DEFAULT_SETTINGS,
    ) -> None:
        self.guild_id = guild_id
        self.user_id = user_id
        self.settings = settings
        self.stats = VoiceStats()
        self.state = VoiceState.IDLE
        self.generation = 0
        self.channel_id: int | None = None
        self._update_voice_state = update_voice_state
        self._events = events
        self._mailbox = Mailbox(on_drop=self._on_post_dropped)
        self._session_id: str | None = None
        self._token: str | None = None
        self._endpoint: str | None = None
        self._server_gone = False
        self._session: VoiceSession | None = None
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._deadline = math.inf
        self._attempts = 0
        self._resumes_in_row = 0
        self._awaiting: tuple[StopReason, int] | None = None  # 4014/4022: reason if silence
        self._want_speaking = False
        self._speaking_announced = False
        self._packetizer = RtpPacketizer(
            seq=random.getrandbits(16), timestamp=random.getrandbits(32)
        )

    # -- owner API (non-blocking; the run task acts on them in order) -------------------------

    def join(self, channel_id: int) -> None:
        """Join (or move to) ``channel_id``: sends op 4 and connects when both events came."""
        self._post(Join(channel_id=channel_id))

    def leave(self) -> None:
        """Leave voice: closes the session and sends op 4 with ``channel_id: null``."""
        self._post(Leave())

    def on_voice_state_update(self, *, session_id: str, channel_id: int | None) -> None:
        """Feed the bot's own VOICE_STATE_UPDATE for this guild."""
        self._post(StateUpdate(session_id=session_id, channel_id=channel_id))

    def on_voice_server_update(self, *, token: str, endpoint: str | None) -> None:
        """Feed VOICE_SERVER_UPDATE for this guild (``endpoint`` None: the server went away)."""
        self._post(ServerUpdate(token=token, endpoint=endpoint))

    def on_gateway_ready(self) -> None:
        """The main gateway began a new session (READY after a failed resume or op 9): events
        sent on the old one are lost, so a connection waiting for the gateway (for the answer to
        its op 4, or for the new server after a 4014/4022) joins again now, on the new session."""
        self._post(GatewayReady())

    def close(self) -> None:
        """Stop ``run`` (without sending op 4; call ``leave`` first for a polite exit)."""
        self._mailbox.close()

    @property
    def dave_epoch(self) -> int | None:
        return None if self._session is None else self._session.dave.epoch

    @property
    def dave_protocol_version(self) -> int:
        return 0 if self._session is None else self._session.dave.protocol_version

    def _post(self, msg: ConnectionMsg) -> None:
        self._mailbox.post(msg)

    def _on_post_dropped(self, msg: ConnectionMsg) -> None:
        self.stats.control_dropped += 1
        log.error("voice_inbox_full", guild_id=self.guild_id, message=type(msg).__name__)

    # -- the run task ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the connection's mailbox until it closes, then drop the session. Starts
        (``task_status``) once the mailbox is read."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            async with self._mailbox:
                while True:
                    with trio.move_on_at(self._deadline) as timer:
                        try:
                            msg = await self._mailbox.receive()
                        except trio.EndOfChannel:
                            break
                    if timer.cancelled_caught:
                        await self._on_deadline()
                    else:
                        await self._handle(msg)
            self._new_generation()
            self._drop_session()
            nursery.cancel_scope.cancel()

    async def _handle(self, msg: ConnectionMsg) -> None:
        match msg:
            case Join(channel_id=channel_id):
                self.channel_id = channel_id
                self._attempts = 0
                self._server_gone = False
                await self._start_join()
            case Leave():
                if self.state in (VoiceState.IDLE, VoiceState.DISCONNECTED):
                    return
                self._new_generation()
                self._drop_session()
                await self._finish(StopReason.LEFT, None, leave=True)
            case StateUpdate(session_id=session_id, channel_id=channel_id):
                await self._on_state_update(session_id, channel_id)
            case ServerUpdate(token=token, endpoint=endpoint):
                await self._on_server_update(token, endpoint)
            case GatewayReady():
                waiting = (VoiceState.JOINING, VoiceState.AWAITING_GATEWAY, VoiceState.BACKING_OFF)
                if self.state in waiting and self.channel_id is not None:
                    log.info("voice_rejoin_after_gateway_ready", guild_id=self.guild_id)
                    await self._start_join()
            case SocketConnected(generation=generation, resumed=resumed):
                if generation != self.generation or self._session is None:
                    return
                self.state = VoiceState.CONNECTED
                self._attempts = 0
                self._resumes_in_row = 0
                session = self._session
                log.info("voice_connected", guild_id=self.guild_id, resumed=resumed)
                await self._emit(
                    Connected(
                        guild_id=self.guild_id,
                        channel_id=session.creds.channel_id,
                        mode=session.mode.value if session.mode else "",
                        dave_protocol_version=session.dave.protocol_version,
                        resumed=resumed,
                    )
                )
            case SocketEnded(generation=generation, code=code, error=error):
                if generation == self.generation:
                    await self._on_socket_ended(code, error)
            case _:
                assert_never(msg)

    async def _on_state_update(self, session_id: str, channel_id: int | None) -> None:
        if self.state in (VoiceState.IDLE, VoiceState.DISCONNECTED):
            return
        if channel_id is None:
            # Someone (a moderator, or Discord) took us out of voice.
            self._new_generation()
            self._drop_session()
            await self._finish(StopReason.KICKED, None)
            return
        moved = channel_id != self.channel_id
        was_connected = self.state is VoiceState.CONNECTED
        self._session_id = session_id
        self.channel_id = channel_id
        if self.state is VoiceState.AWAITING_GATEWAY:
            pass  # the socket closed first; the new server update will connect us
        elif self.state is VoiceState.JOINING:
            self._maybe_start()
        elif moved and self.state is VoiceState.CONNECTING:
            # The new server came first (Discord does not order the two events): its token
            # is already ours, so only the session id changes.
            self._new_generation()
            self._drop_session()
            self.state = VoiceState.JOINING
            self._maybe_start()
        elif moved:
            self._wait_for_server(self.settings.move_timeout)
        if moved:
            # Not our join (that set ``channel_id`` first): someone moved us.  Emitted after
            # the state changed, so no frame goes to the old session meanwhile.
            log.info("voice_moved", guild_id=self.guild_id, channel_id=channel_id)
            if was_connected:
                await self._emit_replaced()
            await self._emit(Moved(guild_id=self.guild_id, channel_id=channel_id))

    async def _on_server_update(self, token: str, endpoint: str | None) -> None:
        if self.state in (VoiceState.IDLE, VoiceState.DISCONNECTED):
            return
        if endpoint is None:
            log.info("voice_server_gone", guild_id=self.guild_id)
            self._server_gone = True
            self._wait_for_server(self.settings.join_timeout)
            await self._emit(
                Reconnecting(guild_id=self.guild_id, action=CloseAction.REJOIN, close_code=None)
            )
            return
        self._token, self._endpoint = token, endpoint
        self._awaiting = None
        was_connected = self.state is VoiceState.CONNECTED
        if self.state is not VoiceState.JOINING:
            self._new_generation()
            self._drop_session()
            self.state = VoiceState.JOINING
        self._maybe_start()
        if was_connected:
            await self._emit_replaced()

    async def _emit_replaced(self) -> None:
        """The gateway replaced a connected session (a move, a new voice server) before any
        close: the owner hears ``Reconnecting`` as for a close, so it can hold playback."""
        self.stats.rejoins += 1  # a fresh session
        await self._emit(
            Reconnecting(guild_id=self.guild_id, action=CloseAction.REJOIN, close_code=None)
        )

    def _wait_for_server(self, timeout: float) -> None:
        """Tear the session down and wait (for ``timeout``) for a new server."""
        self._new_generation()
        self._drop_session()
        self._token = self._endpoint = None
        self.state = VoiceState.JOINING
        self._deadline = trio.current_time() + timeout

    async def _on_socket_ended(self, code: int | None, error: str) -> None:
        session = self._session
        action, reason = classify(code)
        resumable = session is not None and session.described
        if action is CloseAction.RESUME and (
            not resumable or self._resumes_in_row >= self.settings.max_resumes
        ):
            action = CloseAction.BACKOFF_REJOIN
        log.info(
            "voice_socket_ended",
            guild_id=self.guild_id,
            close_code=code,
            error=error,
            action=action.value,
        )
        match action:
            case CloseAction.RESUME:
                assert session is not None
                self._resumes_in_row += 1
                self.stats.resumes += 1
                self._start_socket(session, resume=True)
                await self._emit(
                    Reconnecting(guild_id=self.guild_id, action=action, close_code=code)
                )
            case CloseAction.REJOIN:
                self.stats.rejoins += 1
                await self._start_join()
                await self._emit(
                    Reconnecting(guild_id=self.guild_id, action=action, close_code=code)
                )
            case CloseAction.STOP:
                assert reason is not None
                self._new_generation()
                self._drop_session()
                await self._finish(reason, code, leave=reason is not StopReason.KICKED)
            case CloseAction.AWAIT_GATEWAY:
                # Moved, new server, kicked or deleted: not this socket again, and no op 4
                # (it could undo a move); the gateway's next events decide.
                assert reason is not None and code is not None
                self._new_generation()
                self._drop_session()
                self._token = self._endpoint = None
                self._awaiting = (reason, code)
                self.stats.rejoins += 1  # a fresh session follows, if anything does
                self.state = VoiceState.AWAITING_GATEWAY
                self._deadline = trio.current_time() + self.settings.move_timeout
                await self._emit(
                    Reconnecting(guild_id=self.guild_id, action=action, close_code=code)
                )
            case CloseAction.BACKOFF_REJOIN:
                await self._backoff(code)
            case _:
                assert_never(action)

    async def _backoff(self, code: int | None) -> None:
        self._new_generation()
        self._drop_session()
        self._attempts += 1
        if self._attempts > self.settings.max_attempts:
            await self._finish(StopReason.FAILED, code, leave=True)
            return
        self.stats.rejoins += 1
        delay = min(
            self.settings.backoff_max, self.settings.backoff_base * 2 ** (self._attempts - 1)
        )
        self.state = VoiceState.BACKING_OFF
        self._deadline = trio.current_time() + delay * (0.5 + random.random() / 2)
        await self._emit(
            Reconnecting(guild_id=self.guild_id, action=CloseAction.BACKOFF_REJOIN, close_code=code)
        )

    async def _on_deadline(self) -> None:
        self._deadline = math.inf
        if self.state is VoiceState.BACKING_OFF:
            await self._start_join()
        elif self.state is VoiceState.AWAITING_GATEWAY and self._awaiting is not None:
            (reason, code), self._awaiting = self._awaiting, None
            log.info("voice_move_timeout", guild_id=self.guild_id, close_code=code)
            await self._finish(reason, code, leave=reason is not StopReason.KICKED)
        elif self.state is VoiceState.JOINING:
            self._attempts += 1
            if self._attempts > self.settings.max_attempts:
                gone = StopReason.SERVER_GONE if self._server_gone else StopReason.FAILED
                await self._finish(gone, None, leave=True)
            else:
                log.info("voice_join_timeout", guild_id=self.guild_id, attempt=self._attempts)
                await self._start_join()

    async def _start_join(self) -> None:
        """A full (re)join: forget the session, send op 4, wait for both events."""
        assert self.channel_id is not None
        self._awaiting = None
        self._new_generation()
        self._drop_session()
        self._session_id = self._token = self._endpoint = None
        self.state = VoiceState.JOINING
        self._deadline = trio.current_time() + self.settings.join_timeout
        await self._send_op4(self.channel_id)

    async def _send_op4(self, channel_id: int | None) -> None:
        """Op 4 through the main gateway.  If that fails (the shard is reconnecting), a join
        simply times out and is retried; a leave is already final on our side."""
        s = self.settings
        try:
            await self._update_voice_state(self.guild_id, channel_id, s.self_mute, s.self_deaf)
        except MusicBotError as exc:
            log.warning("voice_op4_failed", guild_id=self.guild_id, error=repr(exc))

    def _maybe_start(self) -> None:
        if None in (self._session_id, self._token, self._endpoint, self.channel_id):
            return
        assert self._session_id and self._token and self._endpoint and self.channel_id
        creds = Credentials(
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            session_id=self._session_id,
            token=self._token,
            endpoint=self._endpoint,
        )
        self._drop_session()
        self._session = VoiceSession(creds, ssl_context=self.settings.ssl_context)
        self._start_socket(self._session, resume=False)

    def _start_socket(self, session: VoiceSession, *, resume: bool) -> None:
        assert self._nursery is not None
        self._new_generation()
        self.state = VoiceState.RESUMING if resume else VoiceState.CONNECTING
        self._deadline = math.inf
        self._scope = trio.CancelScope()
        self._nursery.start_soon(self._socket_task, self.generation, session, resume, self._scope)

    async def _socket_task(
        self, generation: int, session: VoiceSession, resume: bool, scope: trio.CancelScope
    ) -> None:
        code: int | None = None
        error = ""
        with scope:
            try:

                async def on_connected(resumed: bool) -> None:
                    await self._on_socket_connected(generation, session, resumed)

                await session.run_socket(
                    resume=resume,
                    timeout=self.settings.handshake_timeout,
                    on_connected=on_connected,
                )
            except ConnectionLost as exc:
                code, error = exc.code, exc.reason
            except trio.TooSlowError:
                error = "handshake_timeout"
            except (VoiceHandshakeError, DaveError, ValueError, KeyError, TypeError) as exc:
                # A malformed or unusable server message: handled like a failed connection.
                error = f"{type(exc).__name__}: {exc}"
        if not scope.cancelled_caught:
            await self._report(SocketEnded(generation=generation, code=code, error=error))

    async def _on_socket_connected(
        self, generation: int, session: VoiceSession, resumed: bool
    ) -> None:
        """In the socket task: announce speaking (before any audio), then tell ``run``."""
        if generation != self.generation:
            return
        self._speaking_announced = False
        if session.socket is not None and self._want_speaking:
            await session.socket.send_json(op.SPEAKING, speaking_payload(True, session.ssrc))
            self._speaking_announced = True
        await self._report(SocketConnected(generation=generation, resumed=resumed))

    async def _report(self, msg: SocketConnected | SocketEnded) -> None:
        """A socket task's outcome: waits for room (lossless); a closed inbox means ``run``
        is over and nobody needs it."""
        await self._mailbox.report(msg)

    def _new_generation(self) -> None:
        self.generation += 1
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    async def _finish(self, reason: StopReason, code: int | None, *, leave: bool = False) -> None:
        """The call is over.  With ``leave``, op 4 with no channel goes out *before* the owner
        hears of it: an owner that joins again at once must not have its join undone by our
        late leave (and whoever watches the gateway sees the leave by the time it is told)."""
        self.state = VoiceState.DISCONNECTED
        self._deadline = math.inf
        self._awaiting = None
        log.info("voice_disconnected", guild_id=self.guild_id, reason=reason.value, code=code)
        if leave:
            await self._send_op4(None)
        await self._emit(Disconnected(guild_id=self.guild_id, reason=reason, close_code=code))

    async def _emit(self, event: VoiceEvent) -> None:
        """Tell the owner; waits for room rather than drop a control event (rule 13)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._events.send(event)  # (closed: the owner stopped listening)

    # -- FrameSink ---------------------------------------------------------------------------

    async def send_frame(self, opus: bytes) -> None:
        """Send one 20 ms Opus frame now, or drop it (and count it) if we cannot."""
        session = self._session
        transport = None if session is None else session.transport
        if (
            self.state is not VoiceState.CONNECTED
            or session is None
            or transport is None
            or not session.dave.ready
        ):
            self.stats.frames_dropped += 1
            self._packetizer.skip_frame()
            return
        if not self._speaking_announced:
            await self.set_speaking(True)
        packetizer = self._packetizer
        packetizer.ssrc = transport.ssrc
        try:
            parts = packetizer.next_packet_parts(transport.cipher, session.dave.encrypt(opus))
            await transport.udp.sendmsg(parts)
        except (OSError, ValueError, trio.ClosedResourceError):
            # The socket went away under us (a rejoin closed it) or DAVE refused: drop it.
            self.stats.frames_dropped += 1
            return
        self.stats.frames_sent += 1

    def send_frame_nowait(self, opus: bytes) -> None:
        """The voice sender's path: encrypt and send one frame synchronously, or drop it.

        :func:`~musicbot.voice.rtp.send_nowait` sends one datagram on the connected,
        non-blocking UDP socket (in C where the accelerator is built) without a Trio checkpoint
        (the sender sends every stream's frame in one tick; a checkpoint per packet would cost
        a scheduler pass each).  A full socket buffer (``BlockingIOError``) drops the packet
        like any other send failure.  Speaking is the player's business (it awaits
        ``set_speaking`` before the first frame); a reconnect re-announces it by itself.
        """
        session = self._session
        transport = None if session is None else session.transport
        if (
            self.state is not VoiceState.CONNECTED
            or session is None
            or transport is None
            or not session.dave.ready
        ):
            self.stats.frames_dropped += 1
            self._packetizer.skip_frame()
            return
        packetizer = self._packetizer
        packetizer.ssrc = transport.ssrc
        try:
            send_nowait(
                packetizer, transport.cipher, transport.udp.fileno(), session.dave.encrypt(opus)
            )
        except (OSError, ValueError):
            # The socket went away under us (a rejoin closed it: fileno -1 is EBADF), the
            # kernel buffer is full, or DAVE refused: drop it.
            self.stats.frames_dropped += 1
            return
        self.stats.frames_sent += 1

    async def set_speaking(self, speaking: bool) -> None:
        """Op 5; remembered and re-announced after a reconnect."""
        self._want_speaking = speaking
        session = self._session
        if session is None or session.socket is None or self.state is not VoiceState.CONNECTED:
            self._speaking_announced = False
            return
        try:
            await session.socket.send_json(op.SPEAKING, speaking_payload(speaking, session.ssrc))
        except ConnectionLost:
            self._speaking_announced = False
            return
        self._speaking_announced = speaking

    async def send_silence(self) -> None:
        """The polite stop: five silence frames, then speaking 0."""
        for _ in range(SILENCE_FRAMES_ON_STOP):
            await self.send_frame(SILENCE_FRAME)
        await self.set_speaking(False)
