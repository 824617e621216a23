"""The guild actor: sole owner of one guild's queue, player and voice connection.

Theory.  One task runs :meth:`Guild.run`; it reads one inbox (commands from the router, voice
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

Crash recovery: after every change the actor saves a plain snapshot through its supervisor's
``ChildContext``; a restarted instance rebuilds the queue from it, rejoins the voice channel and
resumes the track from the saved position.  A guild that crashes more than
``MAX_CRASHES`` times within ``CRASH_WINDOW`` seconds gives up cleanly and says so.
"""

from __future__ import annotations

import contextlib
import functools
import math
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
from actors.guild import views
from actors.guild.announcer import Announcer, ChannelMessages
from actors.guild.messages import (
    ChannelGone,
    Command,
    Extracted,
    FromPlayer,
    FromVoice,
    GuildMsg,
    Invocation,
    MemberVoiceState,
    PlaylistBatch,
    PlaylistTrackFound,
    Resolved,
    RestoreSession,
    Shutdown,
    VoiceServer,
)
from actors.guild.reasons import failure_text
from actors.guild.replies import ReplyQueue
from actors.kit.supervisor import ChildContext
from actors.playlists import PersonalPlaylistsHandle
from musicbot.audio import messages as pm
from musicbot.audio.player import PlayerHandle, PlayerStats, open_player_channel, run_player
from musicbot.audio.source import SourceOpener
from musicbot.config import Config
from musicbot.i18n import t
from musicbot.log import bind
from musicbot.models.queue import Queue
from musicbot.models.track import Track
from musicbot.ops.context import OpsContext
from musicbot.storage import GuildSettings, SessionSnapshot, Storage, StorageError
from musicbot.voice import (
    Connected,
    Disconnected,
    Reconnecting,
    StopReason,
    UpdateVoiceState,
    VoiceConnection,
    VoiceSettings,
)

log = structlog.get_logger(__name__)

INBOX_SIZE: Final = 64
MAX_PENDING_EXTRACTIONS: Final = 8  # per guild; more is refused as "busy"
MAX_CRASHES: Final = 3
CRASH_WINDOW: Final = 60.0
REPLY_TIMEOUT: Final = 8.0  # a REST call answering a user may take this long at most
PENDING_SEARCH_TTL: Final = 300.0
MANAGE_GUILD: Final = 1 << 5  # Discord permission bits
ADMINISTRATOR: Final = 1 << 3
# Seconds an actor with no voice and no queue stays before it stops (at most idle_timeout).
LINGER: Final = 30.0


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
    storage: Storage
    voice_members: Callable[[int], dict[int, int]]  # guild id -> {user id: channel id}
    rng: random.Random = attrs.field(factory=random.Random)
    ops: OpsContext | None = None  # metrics, health, and the board for audio counters
    personal_playlists: PersonalPlaylistsHandle | None = None  # None: personal scope unavailable


@attrs.define
class _Crashes:
    """Saved with the snapshot so a restarted instance knows how often it crashed lately."""

    times: list[float] = attrs.field(factory=list)


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
        self.members: dict[int, int] = dict(deps.voice_members(guild_id))
        self.voice_channel_id: int | None = None  # where the bot is (or is going)
        self.voice_connected = False
        self.text_channel_id: int | None = None
        self.locale: str | None = None  # the language of the last request, for announcements
        self.paused = False
        self.volume = self.cfg.audio.default_volume
        self.position = 0.0
        # When the player last reported ``position`` (trio time); None while it is not moving.
        self.position_at: float | None = None
        self.playing_entry: str | None = None
        self.resolving: set[str] = set()
        self.pending = 0
        self.searches: dict[str, tuple[float, int, tuple[Track, ...]]] = {}
        self.stay_24_7 = self.cfg.voice.stay_24_7
        self.alone_since: float | None = None
        self.idle_since: float | None = trio.current_time()
        self.stopping = False
        self.player: PlayerHandle | None = None
        self.voice: VoiceConnection | None = None
        self.voice_done = trio.Event()  # set when the current voice connection's task ended
        self.crashes = _Crashes()
        self.posts = Announcer(deps.rest, lambda: self.text_channel_id)
        self.replies = ReplyQueue(nursery)
        self.save_state: Callable[[Any], None] = lambda _s: None
        self.writer = deps.storage.session_writer(self.capture)

    # ------------------------------------------------------------------ derived state

    @property
    def bot_id(self) -> int:
        return self.deps.identity.user_id

    def listeners(self) -> list[int]:
        """Members (not the bot) in the bot's voice channel."""
        if self.voice_channel_id is None:
            return []
        return [
            u for u, c in self.members.items() if c == self.voice_channel_id and u != self.bot_id
        ]

    def is_dj(self, inv: Invocation) -> bool:
        if inv.permissions & (MANAGE_GUILD | ADMINISTRATOR):
            return True
        if self.settings.dj_role_id is not None and self.settings.dj_role_id in inv.roles:
            return True
        return self.listeners() == [inv.user_id]

    def lang(self, inv: Invocation | None = None) -> str | None:
        if self.settings.language:
            return self.settings.language
        return inv.locale if inv is not None else self.locale

    # ------------------------------------------------------------------ snapshots

    def playback_position(self) -> float:
        """The last reported position moved on by the time since, while audio flows (the
        player reports only every few seconds; a snapshot should not lag behind that)."""
        if self.position_at is None or self.paused or self.playing_entry is None:
            return self.position
        return self.position + max(0.0, trio.current_time() - self.position_at)

    def set_position(self, position: float, *, moving: bool) -> None:
        self.position = position
        self.position_at = trio.current_time() if moving else None

    def snapshot(self) -> dict[str, Any]:
        return {
            "queue": self.queue.snapshot(),
            "voice_channel_id": self.voice_channel_id,
            "text_channel_id": self.text_channel_id,
            "position": self.playback_position(),
            "volume": self.volume,
            "stay_24_7": self.stay_24_7,
            "paused": self.paused,
            "locale": self.locale,
            "crashes": list(self.crashes.times),
        }

    def capture(self) -> SessionSnapshot:
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
        )

    def changed(self) -> None:
        """Record the new state for a restart (in memory) and for a process restart (disk)."""
        self.save_state(self.snapshot())
        if self.voice_channel_id is not None and (self.queue.current or len(self.queue)):
            self.writer.mark_dirty()

    def restore_from(self, data: Mapping[str, Any]) -> None:
        self.queue = Queue.restore(data["queue"], max_length=self.cfg.limits.max_queue_length)
        self.voice_channel_id = data.get("voice_channel_id")
        self.text_channel_id = data.get("text_channel_id")
        self.set_position(float(data.get("position", 0.0)), moving=False)
        self.volume = int(data.get("volume", self.volume))
        self.stay_24_7 = bool(data.get("stay_24_7", self.stay_24_7))
        self.locale = data.get("locale")
        self.crashes.times = [float(x) for x in data.get("crashes", ())]

    # ------------------------------------------------------------------ speaking

    async def answer(
        self, inv: Invocation, key: str, *, ephemeral: bool = False, **kw: Any
    ) -> None:
        await self.respond(inv, t(key, self.lang(inv), **kw), ephemeral=ephemeral)

    async def respond(
        self, inv: Invocation, body: dict[str, Any] | str, *, ephemeral: bool = False
    ) -> None:
        self._reply(inv, functools.partial(inv.reply.send, body, ephemeral=ephemeral))

    async def defer(self, inv: Invocation, *, ephemeral: bool = False) -> None:
        self._reply(inv, functools.partial(inv.reply.defer, ephemeral=ephemeral))

    async def update(self, inv: Invocation, body: dict[str, Any]) -> None:
        """Replace the message a component sits on (a plain answer for a slash command)."""
        self._reply(inv, functools.partial(inv.reply.update, body))

    def _reply(self, inv: Invocation, call: Callable[[], Awaitable[None]]) -> None:
        """Send from a child task, in order per interaction (see ``actors.guild.replies``)."""
        self.replies.submit(inv.reply, inv.name, call)

    async def wait_replies(self, inv: Invocation | None = None) -> None:
        """Until the answers queued so far (for ``inv``, or for everyone) have been sent."""
        await self.replies.wait(inv.reply if inv is not None else None)

    def announce(self, kind: str, body: dict[str, Any]) -> None:
        """Post to the music channel without waiting (``kind`` "np" edits the last one)."""
        self.posts.post(kind, body)

    def announce_text(self, key: str, **kw: Any) -> None:
        self.announce(
            "text", {"content": t(key, self.lang(), **kw), "allowed_mentions": {"parse": []}}
        )

    def show_now_playing(self) -> None:
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
        if self.voice is None:
            send, receive = trio.open_memory_channel[Any](16)
            self.voice = VoiceConnection(
                guild_id=self.guild_id,
                user_id=self.bot_id,
                update_voice_state=self.deps.update_voice_state,
                events=send,
                settings=VoiceSettings.from_config(self.cfg),  # move_timeout, ca_file
            )
            self.voice_done = trio.Event()
            self.nursery.start_soon(self.run_voice, self.voice, self.voice_done)
            self.nursery.start_soon(self.forward, receive, FromVoice)
            self.start_player(self.voice)
            if self.deps.ops is not None and self.player is not None:
                self.deps.ops.board.attach(self.guild_id, self.voice, self.player.stats)
        return self.voice

    async def run_voice(self, voice: VoiceConnection, done: trio.Event) -> None:
        try:
            await voice.run()
        finally:
            done.set()

    def start_player(self, sink: VoiceConnection) -> None:
        commands, receive = open_player_channel()
        events_send, events_receive = trio.open_memory_channel[pm.PlayerEvent](32)
        stats = PlayerStats()
        self.player = PlayerHandle(commands, stats=stats)
        self.nursery.start_soon(
            functools.partial(
                run_player,
                receive,
                sink=sink,
                events=events_send,
                opener=self.deps.opener,
                volume=self.volume,
                stats=stats,
            )
        )
        self.nursery.start_soon(self.forward, events_receive, FromPlayer)

    async def forward(
        self, receive: trio.MemoryReceiveChannel[Any], wrap: Callable[..., GuildMsg]
    ) -> None:
        async with receive:
            async for event in receive:
                with trio.move_on_after(REPLY_TIMEOUT):
                    await self.inbox_send.send(wrap(event=event))

    def join(self, channel_id: int) -> None:
        voice = self.ensure_voice_task()
        if self.voice_channel_id != channel_id or not self.voice_connected:
            self.voice_channel_id = channel_id
            voice.join(channel_id)
        self.refresh_alone()

    async def leave(self, reason_key: str | None) -> None:
        await self.stop_playback()
        if self.voice is not None and self.voice_channel_id is not None:
            self.voice.leave()
        self.voice_channel_id = None
        self.voice_connected = False
        self.alone_since = None
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

    def refresh_alone(self) -> None:
        if self.voice_channel_id is None or self.listeners():
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = trio.current_time()

    # ------------------------------------------------------------------ playback

    async def stop_playback(self) -> None:
        if self.player is not None and self.playing_entry is not None:
            self.playing_entry = None
            await self.player.stop()
        self.paused = False

    async def play_current(self, *, start_at: float = 0.0) -> None:
        """Make the player play the queue's current track (resolving it first if needed)."""
        track = self.queue.current
        if track is None:
            await self.stop_playback()
            self.idle_since = trio.current_time()
            self.deps.bus.publish(ev.QueueEmpty(guild_id=self.guild_id))
            return
        self.idle_since = None
        self.set_position(
            start_at, moving=False
        )  # kept for Connected or the resolution to start from
        if not self.voice_connected or self.player is None:
            return  # starts on Connected
        expired = track.stream_expires_at is not None and track.stream_expires_at < time.time() + 30
        if not track.resolved or expired:
            if self.playing_entry is not None and self.playing_entry != track.entry_id:
                # The previous track must not play on while this one resolves: its natural
                # end would advance the queue past the track the member asked for.
                await self.stop_playback()
            if track.entry_id not in self.resolving:
                self.resolving.add(track.entry_id)
                self.nursery.start_soon(self.resolve_task, track, expired)
            return
        self.playing_entry = track.entry_id
        self.set_position(start_at, moving=False)
        self.paused = False
        await self.player.play(track, start_at=start_at)

    async def resolve_task(self, track: Track, force: bool) -> None:
        try:
            fresh = await self.deps.extractor.resolve(track, force=force)
        except Exception as exc:
            await self.inbox_send.send(Resolved(entry_id=track.entry_id, error=exc))
        else:
            await self.inbox_send.send(Resolved(entry_id=track.entry_id, track=fresh))

    async def on_resolved(self, msg: Resolved) -> None:
        self.resolving.discard(msg.entry_id)
        current = self.queue.current
        if current is None or current.entry_id != msg.entry_id:
            return
        if msg.track is None:
            self.announce_text(
                "cmd.track_failed", title=current.title, reason=failure_text(msg.error, self.lang())
            )
            self.deps.bus.publish(
                ev.TrackFailed(guild_id=self.guild_id, track=current, error=repr(msg.error))
            )
            self.queue.skip()
            self.changed()
            await self.play_current()
            return
        self.queue.replace_current(msg.track)
        await self.play_current(start_at=self.position)

    async def on_player(self, event: pm.PlayerEvent) -> None:
        match event:
            case pm.TrackStarted(track=track, position=position):
                if track.entry_id != self.playing_entry:
                    return
                self.set_position(position, moving=True)
                self.deps.bus.publish(ev.TrackStarted(guild_id=self.guild_id, track=track))
                self.show_now_playing()
                self.changed()
            case pm.PositionChanged(track=track, position=position):
                if track.entry_id == self.playing_entry:
                    self.set_position(position, moving=not self.paused)
                    self.save_state(self.snapshot())
                    self.writer.mark_dirty()
            case pm.TrackEnded(track=track, reason=reason, error=error, position=position):
                if track.entry_id != self.playing_entry:
                    return  # replaced or stopped on purpose; already handled
                self.playing_entry = None
                self.set_position(0.0, moving=False)
                if reason is pm.EndReason.FAILED:
                    self.announce_text(
                        "cmd.track_failed",
                        title=track.title,
                        reason=failure_text(error, self.lang()),
                    )
                    self.deps.bus.publish(
                        ev.TrackFailed(guild_id=self.guild_id, track=track, error=repr(error))
                    )
                    self.queue.skip()
                elif reason is pm.EndReason.FINISHED:
                    self.deps.bus.publish(
                        ev.TrackFinished(guild_id=self.guild_id, track=track, played=position)
                    )
                    self.queue.advance()
                    if self.queue.current is None:
                        self.announce_text("cmd.queue_finished")
                else:
                    return
                self.changed()
                await self.play_current()
            case _:
                assert_never(event)

    async def on_voice(self, event: Any) -> None:
        match event:
            case Connected(channel_id=channel_id, resumed=resumed):
                self.voice_connected = True
                self.voice_channel_id = channel_id
                self.deps.bus.publish(
                    ev.VoiceConnected(guild_id=self.guild_id, channel_id=channel_id)
                )
                self.refresh_alone()
                if not resumed and self.playing_entry is None and self.queue.current is not None:
                    await self.play_current(start_at=self.position)
            case Reconnecting():
                pass  # frames are dropped meanwhile; the voice task recovers by itself
            case Disconnected(reason=reason):
                was = self.voice_channel_id
                self.voice_connected = False
                if reason is StopReason.LEFT:
                    return
                log.info("voice_lost", reason=reason.value, channel_id=was)
                await self.stop_playback()
                if self.voice is not None:
                    self.voice.close()  # ends its task; a new join builds a new connection
                self.voice = None
                await self.player_close()
                self.voice_channel_id = None
                await self.end_session()
                key = "cmd.kicked" if reason is StopReason.KICKED else None
                self.announce_text(key or "cmd.voice_failed", reason=reason.value.replace("_", " "))
                self.deps.bus.publish(
                    ev.VoiceDisconnected(
                        guild_id=self.guild_id, channel_id=was, reason=reason.value
                    )
                )
                self.changed()
            case _:
                log.debug("voice_event_ignored", kind=type(event).__name__)  # (e.g. Moved)

    async def player_close(self) -> None:
        if self.player is not None:
            player, self.player = self.player, None
            self.playing_entry = None
            await player.aclose()

    async def on_member_voice(self, msg: MemberVoiceState) -> None:
        if msg.channel_id is None:
            self.members.pop(msg.user_id, None)
        else:
            self.members[msg.user_id] = msg.channel_id
        if msg.user_id == self.bot_id:
            if self.voice is not None:
                self.voice.on_voice_state_update(
                    session_id=msg.session_id, channel_id=msg.channel_id
                )
            if msg.channel_id is not None and msg.channel_id != self.voice_channel_id:
                self.voice_channel_id = msg.channel_id  # moved by someone: follow
                self.changed()
        self.refresh_alone()

    # ------------------------------------------------------------------ the loop

    def deadline(self) -> float:
        now_ok = not (self.stay_24_7 and self.voice_channel_id is not None)
        deadlines = [math.inf]
        if now_ok and self.alone_since is not None:
            deadlines.append(self.alone_since + self.cfg.voice.alone_timeout)
        idle = self.idle_since is not None and self.playing_entry is None and not self.resolving
        if now_ok and idle and self.voice_channel_id is not None:
            deadlines.append(self.idle_since + self.cfg.voice.idle_timeout)  # type: ignore[operator]
        if self.voice_channel_id is None and self.pending == 0:  # (a queue left out of voice
            # after a resume found the channel empty would otherwise keep the actor forever)
            linger = min(LINGER, self.cfg.voice.idle_timeout)
            deadlines.append((self.idle_since or trio.current_time()) + linger)
        return min(deadlines)

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
        # The command handlers live beside this module (/playlist and /settings register too).
        from actors.guild import commands, playlists, settings  # noqa: F401

        match msg:
            case Command(inv=inv):
                await commands.dispatch(self, inv)
            case MemberVoiceState():
                await self.on_member_voice(msg)
            case VoiceServer(token=token, endpoint=endpoint):
                if self.voice is not None:
                    self.voice.on_voice_server_update(token=token, endpoint=endpoint)
            case ChannelGone(channel_id=channel_id):
                if channel_id == self.voice_channel_id:
                    await self.leave(None)
                if channel_id == self.text_channel_id:
                    self.text_channel_id = None
            case RestoreSession(snapshot=snapshot):
                if self.voice_channel_id is None and self.cfg.storage.resume_sessions:
                    await self.restore_session(_from_session(snapshot), recovered=False)
            case Shutdown(leave_voice=leave_voice):
                await self.shutdown(leave_voice=leave_voice)
                return True
            case Extracted():
                await commands.on_extracted(self, msg)
            case PlaylistBatch():
                await commands.on_playlist_batch(self, msg)
            case PlaylistTrackFound():
                await playlists.on_track_found(self, msg)
            case Resolved():
                await self.on_resolved(msg)
            case FromPlayer(event=event):
                await self.on_player(event)
            case FromVoice(event=event):
                await self.on_voice(event)
            case _:
                assert_never(msg)
        return False

    async def shutdown(self, *, leave_voice: bool) -> None:
        """Graceful stop: keep the snapshot on disk, send silence, leave voice."""
        self.stopping = True
        if self.player is not None and self.playing_entry is not None:
            # PositionChanged comes every 5 s: ask for the exact place to resume from.
            with trio.move_on_after(1), contextlib.suppress(Exception):
                self.set_position((await self.player.status()).position, moving=False)
        if self.voice_channel_id is not None and (self.queue.current or len(self.queue)):
            self.writer.mark_dirty()
            with trio.move_on_after(5):
                await self.writer.flush()
        if self.player is not None:
            await self.player.stop()  # the player sends five silence frames
            with trio.move_on_after(2), contextlib.suppress(Exception):
                await self.player.status()  # answered once the Stop and its silence are done
        if leave_voice and self.voice is not None and self.voice_channel_id is not None:
            self.voice.leave()
            self.voice.close()  # after the leave: op 4 is queued, the session closed, task ends
            with trio.move_on_after(3):
                await self.voice_done.wait()

    async def restore_session(self, data: Mapping[str, Any], *, recovered: bool) -> None:
        self.restore_from(data)
        channel = self.voice_channel_id
        if channel is None:
            return
        if not any(c == channel for u, c in self.members.items() if u != self.bot_id):
            log.info("session_not_resumed_channel_empty", channel_id=channel)
            self.voice_channel_id = None
            # (after a crash too: the dead instance never left the channel it was in)
            await self.drop_stored_session()
            return
        self.voice_channel_id = None
        self.join(channel)
        if recovered and self.queue.current is not None:
            self.announce_text("cmd.recovered", title=self.queue.current.title)

    async def drop_stored_session(self) -> None:
        """A stored session whose channel is gone or empty is over: forget it, and leave the
        channel Discord may still show the bot in (the crashed process never said goodbye)."""
        self.queue = Queue(max_length=self.cfg.limits.max_queue_length)
        self.set_position(0.0, moving=False)
        await self.writer.discard()
        try:
            await self.deps.storage.sessions().delete(self.guild_id)
        except StorageError as exc:
            log.warning("session_delete_failed", error=str(exc))
        if self.members.get(self.bot_id) is not None:
            try:
                await self.deps.update_voice_state(self.guild_id, None, False, False)
            except Exception as exc:  # the gateway may be reconnecting; Discord times it out
                log.warning("ghost_voice_leave_failed", error=repr(exc))


async def run(
    inbox: trio.MemoryReceiveChannel[GuildMsg],
    *,
    guild_id: int,
    inbox_send: trio.MemorySendChannel[GuildMsg],
    deps: GuildDeps,
    ctx: ChildContext | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The guild actor.  Returns when it has been idle long enough (or on Shutdown)."""
    with bind(guild_id=guild_id):
        async with trio.open_nursery() as nursery:
            g = Guild(guild_id, deps, inbox_send, nursery)
            if ctx is not None:
                g.save_state = ctx.save_state
            g.settings = await deps.storage.guild_settings(guild_id).load()
            if g.settings.default_volume is not None:
                g.volume = g.settings.default_volume
            g.stay_24_7 = g.settings.stay_24_7 or g.stay_24_7
            previous = ctx.last_state if ctx is not None else None
            if isinstance(previous, Mapping):
                now = trio.current_time()
                recent = [x for x in previous.get("crashes", ()) if x > now - CRASH_WINDOW]
                recent.append(now)
                if len(recent) > MAX_CRASHES:
                    # Started (so the supervisor is not held up), then a normal exit: a
                    # transient child that returns is not restarted.
                    task_status.started()
                    inbox.close()
                    g.restore_from(previous)
                    log.error("guild_actor_gave_up", crashes=len(recent))
                    g.announce_text("cmd.gave_up")
                    await _give_up(g)
                    nursery.cancel_scope.cancel()
                    return
            nursery.start_soon(g.posts.run)
            nursery.start_soon(g.writer.run)
            if isinstance(previous, Mapping):
                await g.restore_session(previous, recovered=True)
                g.crashes.times = recent
                g.save_state(g.snapshot())
            task_status.started()
            log.info("guild_actor_started", restarted=ctx is not None and ctx.restart_count > 0)
            async with inbox:
                while True:
                    with trio.move_on_at(g.deadline()):
                        try:
                            msg = await inbox.receive()
                        except trio.EndOfChannel:
                            break
                        if await g.handle(msg):
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


async def _give_up(g: Guild) -> None:
    """Past the crash limit: say so, leave voice, forget the session (no resume of a loop)."""
    g.posts.close()
    with trio.move_on_after(REPLY_TIMEOUT):
        await g.posts.run()
        if g.voice_channel_id is not None:
            await g.deps.update_voice_state(g.guild_id, None, False, False)
        await g.writer.discard()
        await g.deps.storage.sessions().delete(g.guild_id)


def _from_session(s: SessionSnapshot) -> dict[str, Any]:
    return {
        "queue": s.queue,
        "voice_channel_id": s.voice_channel_id or None,
        "text_channel_id": s.text_channel_id,
        "position": s.position,
        "volume": s.volume,
        "stay_24_7": s.stay_24_7,
    }


def new_entry_id() -> str:
    return secrets.token_hex(6)


__all__ = ["BotIdentity", "Guild", "GuildDeps", "Invocation", "new_entry_id", "run"]
