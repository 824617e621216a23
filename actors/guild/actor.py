"""The guild actor: sole owner of one guild's queue, player and voice connection.

Rooms.  ``actor.py`` (this module) owns the loop, the inbox, the snapshots and the timers, and
composes the rooms: ``state.py`` (pure: snapshot and session shapes, who is a DJ, the next
deadline), ``call.py`` (the wanted channel and the voice connection; it alone reads what the
connection reports, as hold / up / moved / gone), ``playback.py`` (the player, the entry it
plays, the position, the hold while the call reconnects), ``flow.py`` (the playback flow: the
queue's current track to the player, and the player's and the call's reports back) and
``lifecycle.py`` (restoring, holding and stopping a session).  Commands come from the table it is
handed (``GuildDeps.commands``; ``table.py``, built by ``families.py`` from ``commands.py``
(music), ``playlists.py``, ``settings.py`` and ``ops_commands.py``); ``replies.py`` sends
interaction answers in order per interaction id and ``announcer.py`` posts to the music
channel, from tasks of the nursery :func:`run` opens and never hands out.  Options are validated
by the router (``musicbot.commands.validate``) before any handler sees them.

Theory.  One task runs :func:`run`; it reads one inbox (commands from the router, voice
events from the gateway, and reports from its own child tasks) and is the only code that touches
this guild's state, so there are no locks.  Slow work never blocks the loop: an extraction, a
stream-URL refresh or a playlist import runs in a child task that posts its result back as a
message.  The player (``musicbot.audio``) and the voice connection (``musicbot.voice``) run as
child tasks too and report through forwarders into the same inbox.

Playback is driven by the queue: the actor changes the queue, then tells the player what to
play.  The player's ``TrackEnded`` is acted on only when it is about the entry the actor last
asked it to play (``playing_entry``), so a late report about a replaced track changes nothing.

Timers are deadlines the loop waits on (``move_on_at``): leave after ``[voice] alone_timeout``
alone and after ``idle_timeout`` with nothing to play (unless 24/7), and stop the actor itself
once it has neither voice nor queue, so only active guilds use memory.

Crash recovery (a crash never costs the queue).  After each message that was handled to the
end, the actor saves a plain snapshot through its supervisor's ``ChildContext`` (the last *good*
state: a message that crashes half-way is not in it, and its inbox dies with it, so it is never
replayed).  A restarted instance rebuilds the queue from the snapshot, rejoins the voice channel
and resumes the track from the saved position.  The supervisor alone counts crashes: past its
intensity it restarts the actor with ``ctx.exhausted``, and the actor then *holds*: it keeps
the queue and the saved session, leaves voice, tells the channel, and carries on at the next
``/play`` or ``/resume``.

Voice.  Every VOICE_STATE_UPDATE / VOICE_SERVER_UPDATE for the bot goes to the connection
(lossless forwarders both ways).  While the connection reports ``Reconnecting`` the player is
paused at its exact position; the next ``Connected`` resumes the same entry there.  ``Moved``
(someone dragged the bot) only changes the channel the bot is in.
"""

from __future__ import annotations

import functools
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, assert_never

import attrs
import structlog
import trio

import actors.guild.texts  # noqa: F401  (registers the command texts)
from actors import events as ev
from actors.extractor import ExtractorHandle
from actors.guild import flow, lifecycle, state, views
from actors.guild.announcer import Announcer, ChannelMessages
from actors.guild.call import Call
from actors.guild.messages import (
    AutoplayFound,
    ChannelGone,
    Command,
    Extracted,
    FromPlayer,
    FromVoice,
    GatewayReady,
    GuildMsg,
    Invocation,
    LyricsFound,
    MemberVoiceState,
    PlaylistBatch,
    PlaylistTrackFound,
    ProgressTick,
    Resolved,
    RestoreSession,
    Shutdown,
    VoiceServer,
)
from actors.guild.playback import Playback
from actors.guild.replies import ReplyQueue
from actors.guild.table import CommandTable
from actors.kit.supervisor import ChildContext
from actors.playlists import PersonalPlaylistsHandle
from musicbot.audio.effects import Effects
from musicbot.audio.player import PlayerHandle
from musicbot.audio.source import SourceOpener
from musicbot.config import Config
from musicbot.i18n import t
from musicbot.log import bind
from musicbot.models.media import FrameClock
from musicbot.models.queue import Queue, QueueFull, QueuePositionError
from musicbot.models.track import Track
from musicbot.ops.context import OpsContext
from musicbot.storage import (
    DiskFull,
    GuildSettings,
    PermissionDenied,
    SessionSnapshot,
    Storage,
    StorageError,
    StorageIOError,
)
from musicbot.voice import UpdateVoiceState, VoiceConnection

log = structlog.get_logger(__name__)

REPLY_TIMEOUT: Final = 8.0  # a REST call answering a user may take this long at most
REPLY_TIMEOUT_ON_CRASH: Final = 3.0  # the "something went wrong" answer before a crash
# Commands that need the member in the bot's voice channel (they set the music channel).
NEEDS_VOICE: Final = frozenset({"play", "playnext", "search", "join"})
OPERATOR_ERRORS: Final = (DiskFull, PermissionDenied, StorageIOError)


@attrs.define(kw_only=True)
class BotIdentity:
    """Learned from READY by the router (its only writer); read by guild actors at start."""

    user_id: int = 0
    application_id: int = 0


@attrs.frozen(kw_only=True)
class GuildDeps:
    config: Config
    identity: BotIdentity
    rest: ChannelMessages
    update_voice_state: UpdateVoiceState  # the main gateway's op 4 (guild id first)
    extractor: ExtractorHandle
    bus: ev.EventBus
    opener: SourceOpener
    sender: FrameClock  # the process's one voice clock (musicbot.voice.sender.VoiceSender)
    storage: Storage
    voice_members: Callable[[int], dict[int, int]]  # guild id -> {user id: channel id}
    rng: random.Random = attrs.field(factory=random.Random)
    ops: OpsContext | None = None  # metrics, health, and the board for audio counters
    personal_playlists: PersonalPlaylistsHandle | None = None  # None: personal scope unavailable
    # The commands this actor answers (see actors.guild.table); the guild supervisor's spec
    # fills in the default families when this is None.
    commands: CommandTable | None = None


class Guild:
    """All of one guild's state; only the actor task calls its methods."""

    def __init__(
        self,
        guild_id: int,
        deps: GuildDeps,
        inbox_send: trio.MemorySendChannel[GuildMsg],
        nursery: trio.Nursery,
    ) -> None:
        self.guild_id = guild_id
        self.deps = deps
        self.cfg = deps.config
        self.inbox_send = inbox_send
        self.nursery = nursery
        self.queue = Queue(max_length=self.cfg.limits.max_queue_length)
        self.settings = GuildSettings()
        self.call = Call(
            guild_id=guild_id,
            bot_id=lambda: self.bot_id,
            update_voice_state=deps.update_voice_state,
            config=self.cfg,
            members=dict(deps.voice_members(guild_id)),
        )
        self.playback = Playback()
        self.text_channel_id: int | None = None
        self.locale: str | None = None  # the language of the last request, for announcements
        self.volume = self.cfg.audio.default_volume
        self.pending = 0
        self.searches: dict[str, tuple[float, int, tuple[Track, ...]]] = {}
        # Members who voted to skip, and the queue entry they voted on (actors.guild.vote_skip).
        self.skip_votes: tuple[str, frozenset[int]] = ("", frozenset())
        # The entry whose related tracks autoplay is fetching ("" for none; actors.guild.autoplay).
        self.autoplay_for = ""
        self.stay_24_7 = self.cfg.voice.stay_24_7
        self.idle_since: float | None = trio.current_time()
        self.stopping = False
        self.held = False  # past the crash limit: queue kept, not playing, until asked again
        self.dirty = False  # changed since the last snapshot handed to the supervisor
        self.commands = deps.commands or CommandTable.of()
        self.posts = Announcer(deps.rest, lambda: self.text_channel_id)
        self.replies = ReplyQueue()
        self.save_state: Callable[[Any], None] = lambda _s: None
        self.writer = deps.storage.session_writer(self.capture)

    # ------------------------------------------------------------------ derived state

    @property
    def bot_id(self) -> int:
        return self.deps.identity.user_id

    # The rooms' state, as the command families read and write it.
    @property
    def voice_channel_id(self) -> int | None:
        """Where the bot is (or is going) in voice."""
        return self.call.channel_id

    @voice_channel_id.setter
    def voice_channel_id(self, value: int | None) -> None:
        self.call.channel_id = value

    @property
    def voice_connected(self) -> bool:
        return self.call.connected

    @property
    def members(self) -> dict[int, int]:
        return self.call.members

    @property
    def alone_since(self) -> float | None:
        return self.call.alone_since

    @property
    def voice(self) -> VoiceConnection | None:
        return self.call.voice

    @property
    def player(self) -> PlayerHandle | None:
        return self.playback.player

    @property
    def playing_entry(self) -> str | None:
        return self.playback.playing_entry

    @property
    def resolving(self) -> set[str]:
        return self.playback.resolving

    @property
    def paused(self) -> bool:
        return self.playback.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.playback.paused = value

    @property
    def position(self) -> float:
        return self.playback.position

    def listeners(self) -> list[int]:
        """Members (not the bot) in the bot's voice channel."""
        return self.call.listeners()

    def refresh_alone(self) -> None:
        """Re-check whether the bot is alone in its channel, which starts or clears the
        ``[voice] alone_timeout`` clock (``Call.refresh_alone``)."""
        self.call.refresh_alone()

    def is_dj(self, inv: Invocation) -> bool:
        """Whether the member behind ``inv`` may use DJ-only commands: a server manager, a
        holder of the guild's DJ role, or the only listener in the bot's channel."""
        return state.is_dj(
            permissions=inv.permissions,
            roles=inv.roles,
            user_id=inv.user_id,
            dj_role_id=self.settings.dj_role_id,
            listeners=self.listeners(),
        )

    def lang(self, inv: Invocation | None = None) -> str | None:
        """The locale to speak in: the guild's ``language`` setting, else ``inv``'s locale,
        or without ``inv`` (announcements) the last request's; ``None`` means the default."""
        if self.settings.language:
            return self.settings.language
        return inv.locale if inv is not None else self.locale

    # ------------------------------------------------------------------ snapshots

    def playback_position(self) -> float:
        """Where the current track is now, in seconds: the player's last report moved on by
        the time since, while audio flows (reports come only every few seconds)."""
        return self.playback.position_now()

    def set_position(self, position: float, *, moving: bool) -> None:
        """Record ``position`` (seconds); ``moving`` says audio flows from there, so
        ``playback_position`` advances with the clock until the next report."""
        self.playback.set_position(position, moving=moving)

    def snapshot(self) -> dict[str, Any]:
        """The plain state the supervisor keeps for a restart after a crash (in memory only;
        ``capture`` is the copy for disk)."""
        return state.snapshot(
            queue=self.queue,
            voice_channel_id=self.voice_channel_id,
            text_channel_id=self.text_channel_id,
            position=self.playback_position(),
            volume=self.volume,
            effects=self.playback.effects,
            stay_24_7=self.stay_24_7,
            paused=self.paused,
            locale=self.locale,
            held=self.held,
        )

    def capture(self) -> SessionSnapshot:
        """The session as the debounced writer stores it on disk, so a process restart can
        resume it (``voice_channel_id`` 0: not in voice)."""
        return SessionSnapshot(
            guild_id=self.guild_id,
            voice_channel_id=self.voice_channel_id or 0,
            text_channel_id=self.text_channel_id,
            queue=self.queue.snapshot(),
            position=self.playback_position(),
            repeat_mode=self.queue.repeat.value,
            volume=self.volume,
            stay_24_7=self.stay_24_7,
            saved_at=time.time(),
            filter_preset=self.playback.effects.preset,
            filter_amount=self.playback.effects.amount,
        )

    def changed(self) -> None:
        """Record the new state for a restart (in memory, once the message is handled to the
        end: see :meth:`commit`) and for a process restart (disk, debounced)."""
        self.dirty = True
        if self.voice_channel_id is not None and (self.queue.current or len(self.queue)):
            self.writer.mark_dirty()

    def commit(self) -> None:
        """The message was handled without crashing: its state is the last good one."""
        if self.dirty:
            self.dirty = False
            self.save_state(self.snapshot())

    def restore_from(self, data: Mapping[str, Any]) -> None:
        """Take over the state of a ``snapshot`` (or a stored session, via
        ``state.from_session``); a missing volume or 24/7 flag keeps the current one.  Joins
        nothing: the callers decide whether to rejoin."""
        saved = state.restore(data, max_queue=self.cfg.limits.max_queue_length)
        self.queue = saved.queue
        self.voice_channel_id = saved.voice_channel_id
        self.text_channel_id = saved.text_channel_id
        self.set_position(saved.position, moving=False)
        self.volume = saved.volume if saved.volume is not None else self.volume
        if saved.effects is not None:
            self.playback.effects = saved.effects
        elif saved.filter is not None:  # a stored session: the equalizer stays the server's
            preset, amount = saved.filter
            self.playback.effects = Effects.of(preset, amount, self.playback.effects.eq)
        self.stay_24_7 = saved.stay_24_7 if saved.stay_24_7 is not None else self.stay_24_7
        self.locale = saved.locale
        self.held = saved.held

    # ------------------------------------------------------------------ speaking

    async def answer(
        self, inv: Invocation, key: str, *, ephemeral: bool = False, **kw: Any
    ) -> None:
        """Answer ``inv`` with the text ``key`` (filled in from ``kw``) in the member's
        language; queued like ``respond``."""
        await self.respond(inv, t(key, self.lang(inv), **kw), ephemeral=ephemeral)

    async def respond(
        self, inv: Invocation, body: dict[str, Any] | str, *, ephemeral: bool = False
    ) -> None:
        """Answer ``inv`` with ``body`` (a message payload, or plain text) from a child task,
        in order with its other answers; returns at once, so a slow REST call never blocks
        the loop (``wait_replies`` waits for it)."""
        self._reply(inv, functools.partial(inv.reply.send, body, ephemeral=ephemeral))

    async def defer(self, inv: Invocation, *, ephemeral: bool = False) -> None:
        """Acknowledge ``inv`` now and answer later (Discord waits only 3 s for the first
        answer); queued like ``respond``, a no-op once acknowledged."""
        self._reply(inv, functools.partial(inv.reply.defer, ephemeral=ephemeral))

    async def update(self, inv: Invocation, body: dict[str, Any]) -> None:
        """Replace the message a component sits on (a plain answer for a slash command)."""
        self._reply(inv, functools.partial(inv.reply.update, body))

    def _reply(self, inv: Invocation, call: Callable[[], Awaitable[None]]) -> None:
        """Send from a child task, in order per interaction (see ``actors.guild.replies``)."""
        self.nursery.start_soon(self.replies.submit(inv.reply.interaction_id, inv.name, call))

    async def wait_replies(self, inv: Invocation | None = None) -> None:
        """Until the answers queued so far (for ``inv``, or for everyone) have been sent."""
        await self.replies.wait(inv.reply.interaction_id if inv is not None else None)

    def announce(self, kind: str, body: dict[str, Any]) -> None:
        """Post to the music channel without waiting (``kind`` "np" edits the last one)."""
        self.posts.post(kind, body)

    def announce_text(self, key: str, **kw: Any) -> None:
        """Post the text ``key`` (filled in from ``kw``) to the music channel in the guild's
        language; a mention in it (a title, a name) pings nobody."""
        self.announce(
            "text", {"content": t(key, self.lang(), **kw), "allowed_mentions": {"parse": []}}
        )

    async def tick(self, every: float) -> None:
        """Post a :class:`ProgressTick` every ``every`` seconds; lossy (rule 13): a tick that
        finds the inbox full is dropped, the next one comes anyway."""
        while True:
            await trio.sleep(every)
            try:
                self.inbox_send.send_nowait(ProgressTick())
            except trio.WouldBlock:
                continue
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return

    def show_now_playing(self) -> None:
        """Post the now-playing card of the current track (kind ``np``: it replaces the last
        one); nothing when there is no current track."""
        track = self.queue.current
        if track is None:
            return
        upcoming = self.queue.upcoming
        self.announce(
            "np",
            views.now_playing(
                track,
                position=self.position,
                paused=self.paused,
                repeat=self.queue.repeat.value,
                up_next=upcoming[0] if upcoming else None,
                locale=self.lang(),
            )
            | {"allowed_mentions": {"parse": []}},
        )

    # ------------------------------------------------------------------ voice

    def ensure_voice_task(self) -> VoiceConnection:
        """The call's connection and its player, their tasks started in the actor's nursery."""
        opened = self.call.open()
        if opened is not None:
            self.nursery.start_soon(opened.run)
            self.nursery.start_soon(self.forward, opened.events, FromVoice)
            player = self.playback.open(
                opened.voice,
                self.deps.opener,
                self.volume,
                clock=self.deps.sender,
                effects=self.playback.effects,
            )
            self.nursery.start_soon(player.run)
            self.nursery.start_soon(self.forward, player.events, FromPlayer)
            if self.deps.ops is not None:
                self.deps.ops.board.attach(self.guild_id, opened.voice, player.stats)
        assert self.call.voice is not None
        return self.call.voice

    async def forward(
        self, receive: trio.MemoryReceiveChannel[Any], wrap: Callable[..., GuildMsg]
    ) -> None:
        """Player and voice events are control (rule 13): waited for, never dropped."""
        async with receive:
            async for event in receive:
                await self.inbox_send.send(wrap(event=event))

    def join(self, channel_id: int) -> None:
        """Go to ``channel_id``, opening the connection and its player if there are none; it
        also ends a hold, since a member asked for music again."""
        self.held = False  # a member asked for music again
        self.ensure_voice_task()
        self.call.join(channel_id)

    async def leave(self, reason_key: str | None) -> None:
        """Leave voice on purpose: stop playing, end the session (queue and saved session go),
        post ``reason_key`` if one is given and publish ``VoiceDisconnected``."""
        await self.stop_playback()
        self.call.leave()
        await self.end_session()
        if reason_key:
            self.announce_text(reason_key)
        self.deps.bus.publish(
            ev.VoiceDisconnected(
                guild_id=self.guild_id, channel_id=None, reason=reason_key or "left"
            )
        )
        self.changed()

    async def end_session(self) -> None:
        """Out of voice for good: the queue goes (a later /play starts afresh; the history
        stays) and so does the saved session, so a process restart does not bring it back."""
        self.queue.clear(keep_current=False)
        self.set_position(0.0, moving=False)
        self.idle_since = trio.current_time()  # the actor itself lingers from now
        await self.writer.discard()
        await self.deps.storage.sessions().delete(self.guild_id)

    # ------------------------------------------------------------------ playback

    async def stop_playback(self) -> None:
        """Stop the track being played, if any, and clear pause and hold; the player stays
        open for the next track."""
        await self.playback.stop()

    async def play_current(self, *, start_at: float = 0.0) -> None:
        """Make the player play the queue's current track (see :func:`flow.play_current`)."""
        await flow.play_current(self, start_at=start_at)

    async def player_close(self) -> None:
        """Close the player and end its task; the next voice connection comes with a new one."""
        await self.playback.close()

    async def on_member_voice(self, msg: MemberVoiceState) -> None:
        """A member's voice state: the call updates who is where (and the bot's connection);
        the bot moved by someone is saved, since a restart must rejoin the new channel."""
        if self.call.on_member_voice(msg.user_id, msg.channel_id, msg.session_id):
            self.changed()  # moved by someone: the call follows

    # ------------------------------------------------------------------ the loop

    def deadline(self) -> float:
        """When the loop must wake by itself (``state.next_deadline``): to leave when alone or
        idle, or to stop the actor; ``math.inf`` when never."""
        return state.next_deadline(
            now=trio.current_time(),
            in_voice=self.voice_channel_id is not None,
            stay_24_7=self.stay_24_7,
            alone_since=self.alone_since,
            idle_since=self.idle_since,
            playing=self.playing_entry is not None or bool(self.resolving),
            pending=self.pending,
            held=self.held,
            alone_timeout=self.cfg.voice.alone_timeout,
            idle_timeout=self.cfg.voice.idle_timeout,
        )

    async def on_deadline(self) -> bool:
        """Act on an expired timer; returns True when the actor should stop."""
        now = trio.current_time()
        if self.voice_channel_id is None:
            return self.pending == 0
        if self.alone_since is not None and now >= self.alone_since + self.cfg.voice.alone_timeout:
            await self.leave("cmd.left_alone")
        elif self.idle_since is not None and now >= self.idle_since + self.cfg.voice.idle_timeout:
            await self.leave("cmd.left_idle")
        self.idle_since = now
        return False

    async def handle(self, msg: GuildMsg) -> bool:
        """One message; returns True when the actor should stop."""
        match msg:
            case Command(inv=inv):
                await self.dispatch(inv)
            case MemberVoiceState():
                await self.on_member_voice(msg)
            case VoiceServer(token=token, endpoint=endpoint):
                self.call.on_voice_server(token, endpoint)
            case GatewayReady():
                self.call.on_gateway_ready()
            case ChannelGone(channel_id=channel_id):
                if channel_id == self.voice_channel_id:
                    await self.leave(None)
                if channel_id == self.text_channel_id:
                    self.text_channel_id = None
            case RestoreSession(snapshot=snapshot):
                if self.voice_channel_id is None and self.cfg.storage.resume_sessions:
                    await lifecycle.restore_session(
                        self, state.from_session(snapshot), recovered=False
                    )
            case Shutdown(leave_voice=leave_voice):
                await lifecycle.shutdown(self, leave_voice=leave_voice)
                return True
            case (
                Extracted()
                | PlaylistBatch()
                | PlaylistTrackFound()
                | LyricsFound()
                | AutoplayFound()
                | ProgressTick()
            ):
                report = self.commands.reports.get(type(msg))
                if report is None:
                    log.error("report_without_handler", kind=type(msg).__name__)
                else:
                    await report(self, msg)
            case Resolved():
                await flow.on_resolved(self, msg)
            case FromPlayer(event=event):
                await flow.on_player(self, event)
            case FromVoice(event=event):
                await flow.on_voice(self, event)
            case _:
                assert_never(msg)
        return False

    async def dispatch(self, inv: Invocation) -> None:
        """One command, through the table; its options were validated by the router."""
        if inv.channel_id is not None and inv.name in NEEDS_VOICE:
            self.text_channel_id = inv.channel_id
        self.locale = inv.locale
        found = self.commands.lookup(inv.name)
        if found is None:
            await self.answer(inv, "cmd.unknown_command", ephemeral=True)
            return
        key, handler = found
        if self.commands.needs_dj(key) and not self.is_dj(inv):
            await self.answer(inv, "cmd.need_dj", ephemeral=True)
            return
        try:
            await handler(self, inv)
        except QueueFull as exc:
            await self.answer(inv, "cmd.queue_full", ephemeral=True, limit=exc.limit)
        except QueuePositionError as exc:
            await self.answer(inv, "cmd.bad_index", ephemeral=True, index=exc.position)
        except StorageError as exc:
            emit = log.warning if isinstance(exc, OPERATOR_ERRORS) else log.info
            emit("command_storage_error", command=inv.name, error=type(exc).__name__)
            await self.respond(inv, exc.user_message(self.lang(inv)), ephemeral=True)
        except Exception:
            # Let it crash (the supervisor restarts the guild from its last good snapshot),
            # but the member still gets an answer instead of "the application did not respond".
            await self.answer(inv, "cmd.internal_error", ephemeral=True)
            with trio.move_on_after(REPLY_TIMEOUT_ON_CRASH):
                await self.wait_replies(inv)  # before the crash cancels the actor's tasks
            raise

    # ------------------------------------------------------------------ helpers of the families

    def new_entry(self, track: Track, user_id: int) -> Track:
        """``track`` as a queue entry requested by ``user_id`` (a fresh entry id)."""
        return track.with_requester(user_id, new_entry_id())

    async def join_member(self, inv: Invocation) -> bool:
        """The member must be in voice; the bot joins them unless busy elsewhere with listeners."""
        channel = inv.voice_channel_id
        if channel is None:
            await self.answer(inv, "cmd.not_in_voice", ephemeral=True)
            return False
        if (
            self.voice_channel_id is not None
            and self.voice_channel_id != channel
            and self.listeners()
        ):
            await self.answer(
                inv, "cmd.busy_elsewhere", ephemeral=True, channel_id=self.voice_channel_id
            )
            return False
        self.join(channel)
        return True

    async def kick(self) -> None:
        """Start playing if nothing is."""
        if self.playing_entry is None and not self.resolving:
            if self.queue.current is None:
                self.queue.advance()
            await self.play_current()


async def run(
    inbox: trio.MemoryReceiveChannel[GuildMsg],
    *,
    guild_id: int,
    inbox_send: trio.MemorySendChannel[GuildMsg],
    deps: GuildDeps,
    ctx: ChildContext | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The guild actor.  Returns when it has been idle long enough (or on Shutdown).

    It reports itself started before touching the disk: the supervisor starts children from
    its control loop and the router waits for that, so a slow disk must not hold up either."""
    with bind(guild_id=guild_id):
        async with trio.open_nursery() as nursery:
            g = Guild(guild_id, deps, inbox_send, nursery)
            if ctx is not None:
                g.save_state = ctx.save_state
            task_status.started()
            g.settings = await deps.storage.guild_settings(guild_id).load()
            if g.settings.default_volume is not None:
                g.volume = g.settings.default_volume
            g.stay_24_7 = g.settings.stay_24_7 or g.stay_24_7
            g.playback.effects = Effects.of(None, None, g.settings.eq)  # the server's /eq
            previous = ctx.last_state if ctx is not None else None
            nursery.start_soon(g.posts.run)
            nursery.start_soon(g.writer.run)
            if g.cfg.voice.now_playing_refresh > 0 and ProgressTick in g.commands.reports:
                nursery.start_soon(g.tick, g.cfg.voice.now_playing_refresh)
            if isinstance(previous, Mapping):
                exhausted = ctx is not None and ctx.exhausted
                if exhausted or previous.get("held"):
                    await lifecycle.hold(g, previous, announce=exhausted)
                else:
                    await lifecycle.restore_session(g, previous, recovered=True)
                g.dirty = True
                g.commit()
            log.info("guild_actor_started", restarted=ctx is not None and ctx.restart_count > 0)
            async with inbox:
                while True:
                    with trio.move_on_at(g.deadline()):
                        try:
                            msg = await inbox.receive()
                        except trio.EndOfChannel:
                            break
                        stop = await g.handle(msg)
                        if not stop:
                            await flow.sync_next(g)  # what follows, preloaded (gapless)
                        g.commit()
                        if stop:
                            break
                        continue
                    if await g.on_deadline():
                        break
            g.posts.close()
            await g.player_close()
            if g.voice is not None:
                g.voice.close()
            with trio.move_on_after(REPLY_TIMEOUT):
                await g.writer.flush()
                await g.posts.finished.wait()  # e.g. "left because nobody was listening"
                await g.wait_replies()
            if deps.ops is not None:
                deps.ops.board.detach(guild_id)
            nursery.cancel_scope.cancel()
    log.info("guild_actor_stopped")


def new_entry_id() -> str:
    return secrets.token_hex(6)


__all__ = ["BotIdentity", "Guild", "GuildDeps", "Invocation", "new_entry_id", "run"]
