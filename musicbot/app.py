"""The composition root: builds the actor tree and runs it.

::

    root nursery
    ├─ REST client + its rate-limiter actor
    ├─ event bus, cache actor, extractor actor, personal-playlist actor
    ├─ guild supervisor (simple_one_for_one, transient) → guild actors
    ├─ router (gateway dispatch → guild actors)
    ├─ shard manager → shards
    ├─ command sync (once READY), ops server (when [ops] listen is set)
    └─ signal watcher: SIGINT/SIGTERM → graceful stop (snapshot, silence, leave voice, close)

``serve(cfg)`` is the whole bot as one async function; ``run``/``run_embedded`` wrap it in
``trio.run`` for the command line.  Tests call ``serve`` under their own nursery with
``task_status`` to get the :class:`App` handle.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import structlog
import trio

from actors import cache as cache_actor
from actors import extractor as extractor_actor
from actors import playlists as playlists_actor
from actors.events import EventBus, run_event_bus
from actors.guild.actor import BotIdentity, GuildDeps
from actors.kit.supervisor import SupervisorHandle, run_supervisor
from actors.ratelimit import UserRateLimiter
from actors.router import GuildHandle, Router, RouterDeps, guild_supervisor_spec, run_router
from musicbot import egress
from musicbot.audio.direct import DirectOpener
from musicbot.audio.source import FfmpegOpener, SourceOpener
from musicbot.commands.definitions import command_payloads
from musicbot.commands.sync import sync_commands
from musicbot.config import Config
from musicbot.errors import MusicBotError
from musicbot.extract.runtime import freshness, log_freshness
from musicbot.gateway import GatewayDispatch, ShardManager, shard_for_guild
from musicbot.heap import HeapKeeper, freeze_startup_heap
from musicbot.log import configure
from musicbot.ops import wiring
from musicbot.ops.audio import AudioBoard
from musicbot.ops.context import OpsContext
from musicbot.ops.health import HealthState
from musicbot.ops.metrics import Metrics
from musicbot.ops.server import serve as serve_ops
from musicbot.rest.client import RestClient, open_rest_client
from musicbot.rest.errors import Unauthorized
from musicbot.storage import SessionSnapshot, Storage, open_storage
from musicbot.voice.sender import VoiceSender

log = structlog.get_logger(__name__)

EVENT_BUFFER = 128


@attrs.define(eq=False)
class App:
    """What a running bot exposes to tests and to the signal handler."""

    config: Config
    rest: RestClient
    shards: ShardManager
    guilds: SupervisorHandle[int, GuildHandle]
    router: Router
    bus: EventBus
    identity: BotIdentity
    storage: Storage
    ready: trio.Event
    commands_synced: trio.Event
    stop_requested: trio.Event
    cancel_scope: trio.CancelScope
    metrics: Metrics
    health: HealthState
    ops_url: str | None = None  # the bound ops endpoint ("http://127.0.0.1:9464"), if served
    egress_url: str | None = None  # the loopback egress guard yt-dlp and ffmpeg go through

    def request_stop(self) -> None:
        self.stop_requested.set()

    async def graceful_stop(self) -> None:
        """Stop within ``[ops] shutdown_timeout``, in this order:

        1. the router stops accepting commands and tells every guild actor to stop: each saves
           its session snapshot, lets the player finish its silence frames, leaves voice (op 4
           queued, voice session closed) and ends; we wait for all of them (until 2 s before
           the deadline), then close the guild supervisor;
        2. the shards send what is still queued (those op 4s) and close with 4900, so the
           gateway session stays resumable (until 1 s before the deadline);
        3. everything else is cancelled: the HTTP clients close, any ffmpeg left is reaped by
           its player's cancellation.
        """
        timeout = self.config.ops.shutdown_timeout
        deadline = trio.current_time() + timeout
        log.info("shutdown_started", deadline=timeout)
        with trio.move_on_at(deadline - min(2.0, timeout / 2)) as guilds_scope:
            await self.router.shutdown_guilds()
            # The supervisor has no "child stopped" event to wait on; 50 ms polls are cheap.
            while any(c.running for c in self.guilds.which_children()):  # noqa: ASYNC110
                await trio.sleep(0.05)
        with trio.move_on_at(deadline - min(1.0, timeout / 4)) as shards_scope:
            await self.guilds.aclose()
            await self.shards.close()
        log.info(
            "shutdown_finished",
            guilds_in_time=not guilds_scope.cancelled_caught,
            gateway_closed=not shards_scope.cancelled_caught,
        )
        self.cancel_scope.cancel()


async def _load_sessions(storage: Storage, cfg: Config) -> dict[int, SessionSnapshot]:
    if not cfg.storage.resume_sessions:
        return {}
    restored = await storage.sessions().load_all()
    for path in restored.unreadable:
        log.warning("session_unreadable", path=str(path))
    mine = {s.guild_id: s for s in restored.snapshots}
    count, ids = cfg.discord.shard_count, cfg.discord.shard_ids
    if count != "auto" and ids != "auto":
        # A shared database holds every process's sessions: keep this process's guilds.
        mine = {g: s for g, s in mine.items() if shard_for_guild(g, count) in ids}
    return mine


async def _sync_commands_when_ready(app: App) -> None:
    await app.ready.wait()
    try:
        await sync_commands(
            app.rest,
            app.identity.application_id,
            command_payloads(),
            app.config.discord.command_guild_ids,
        )
    except Exception as exc:
        log.error("command_sync_failed", exc_info=exc)
    finally:
        app.commands_synced.set()


async def serve(
    cfg: Config,
    *,
    extra_extractors: tuple[type, ...] = (),
    trusted_local_media: bool = False,
    manage_heap: bool = False,
    task_status: trio.TaskStatus[App] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the whole bot until cancelled or until ``App.request_stop()``.  ``manage_heap``
    (the command line's choice, for a process that is the bot's alone): once started, freeze
    the start-up heap and let a :class:`musicbot.heap.HeapKeeper` decide when full
    collections run (see :mod:`musicbot.heap`)."""
    # The storage engine (migrated, a JSON data dir imported once) outlives everything else.
    async with open_storage(cfg) as storage:
        await _serve(
            cfg,
            storage,
            extra_extractors=extra_extractors,
            trusted_local_media=trusted_local_media,
            manage_heap=manage_heap,
            task_status=task_status,
        )


async def _serve(
    cfg: Config,
    storage: Storage,
    *,
    extra_extractors: tuple[type, ...],
    trusted_local_media: bool,
    manage_heap: bool,
    task_status: trio.TaskStatus[App],
) -> None:
    opener = FfmpegOpener.from_config(cfg.audio, trusted_local=trusted_local_media)
    restores = await _load_sessions(storage, cfg)
    from musicbot import __version__

    metrics = Metrics(version=__version__)
    health = HealthState()
    ytdlp = freshness()  # yt-dlp's version and age: logged, in /metrics and /health
    log_freshness(ytdlp)
    metrics.extractor(ytdlp.version, ytdlp.released)
    health.extractor(ytdlp.version, ytdlp.released)
    board = AudioBoard(metrics)
    async with (
        open_rest_client(
            api_base=cfg.discord.api_base,
            token=cfg.discord.token,
            on_response=wiring.rest_observer(metrics, health),
        ) as rest,
        trio.open_nursery() as root,
    ):
        bus: EventBus = await root.start(
            functools.partial(run_event_bus, on_drop=metrics.event_dropped)
        )
        cache = await cache_actor.start(root, cfg.cache)
        egress_url: str | None = None
        if egress.needed(cfg.extractor):
            # yt-dlp and ffmpeg reach user links only through this proxy, which re-checks the
            # address of every connection (redirects and DNS rebinding included).
            guard = egress.EgressGuard(policy=egress.default_policy(cfg.extractor))
            egress_url = await root.start(guard.run)
            opener = attrs.evolve(opener, http_proxy=egress_url)
        extractor = wiring.TimedExtractor.wrap(
            await extractor_actor.start(
                root,
                config=cfg,
                cache=cache,
                extra_extractors=extra_extractors,
                egress_proxy=egress_url,
            ),
            metrics,
        )
        source_opener: SourceOpener = opener
        if cfg.audio.demux_in_process:
            # Opus at 100 %: fetched and demuxed in process, through the same egress checks.
            source_opener = DirectOpener(
                fallback=opener,
                proxy=egress_url or cfg.extractor.proxy or None,
                refresh=functools.partial(extractor.resolve, force=True),
            )
        personal_playlists = await playlists_actor.start(root, storage)
        events_send, events_receive = trio.open_memory_channel[GatewayDispatch](EVENT_BUFFER)
        shards = ShardManager.from_config(
            cfg.discord,
            events=events_send,
            get_gateway_bot=rest.get_gateway_bot,
            metrics=wiring.GatewayObserver(metrics, health),
            identify_coordinator=storage.identify_coordinator(),
        )
        identity = BotIdentity()
        voice_states: dict[int, dict[int, int]] = {}

        async def update_voice_state(
            guild_id: int, channel_id: int | None, mute: bool, deaf: bool
        ) -> None:
            await shards.for_guild(guild_id).update_voice_state(
                guild_id, channel_id, self_mute=mute, self_deaf=deaf
            )

        # One 20 ms clock for every stream of the process (issue #16).
        sender = VoiceSender()
        await root.start(sender.run)
        recorder = wiring.Recorder(metrics, health, board)
        live_health = wiring.LiveHealth(recorder, shards.shards)
        guild_deps = GuildDeps(
            config=cfg,
            identity=identity,
            rest=rest,
            update_voice_state=update_voice_state,
            extractor=extractor,
            bus=bus,
            opener=source_opener,
            sender=sender,
            storage=storage,
            voice_members=lambda gid: dict(voice_states.get(gid, {})),
            ops=OpsContext(metrics=metrics, health=live_health, board=board),
            personal_playlists=personal_playlists,
        )
        guilds: SupervisorHandle[int, GuildHandle] = await root.start(
            run_supervisor,
            attrs.evolve(guild_supervisor_spec(guild_deps), on_restart=metrics.supervisor_restart),
        )
        ready = trio.Event()

        async def suggest(prefix: str) -> list[tuple[str, str]]:
            return [(s.title, s.url) for s in await cache.suggest(prefix, 25)]

        def latency(guild_id: int) -> float | None:
            try:
                return shards.for_guild(guild_id).latency
            except (KeyError, ZeroDivisionError):
                return None

        router: Router = await root.start(
            functools.partial(
                run_router,
                events_receive,
                deps=RouterDeps(
                    rest=rest,
                    guilds=guilds,
                    identity=identity,
                    rate=UserRateLimiter(cfg.limits.user_commands, cfg.limits.user_commands_period),
                    latency=latency,
                    suggest=suggest,
                    voice_states=voice_states,
                    on_ready=lambda _r: ready.set(),
                    restores=restores,
                ),
            )
        )
        await root.start(shards.run)
        app = App(
            config=cfg,
            rest=rest,
            shards=shards,
            guilds=guilds,
            router=router,
            bus=bus,
            identity=identity,
            storage=storage,
            ready=ready,
            commands_synced=trio.Event(),
            stop_requested=trio.Event(),
            cancel_scope=root.cancel_scope,
            metrics=metrics,
            health=health,
            egress_url=egress_url,
        )
        root.start_soon(_sync_commands_when_ready, app)
        await root.start(
            functools.partial(
                wiring.run_recorder,
                recorder=recorder,
                bus=bus,
                sources=wiring.Sources(
                    shards=shards.shards,
                    guild_actors=wiring.running_children(guilds),
                    guilds=lambda: tuple(voice_states),
                    cache_stats=cache.stats,
                ),
            )
        )
        if cfg.ops.listen:
            app.ops_url = await root.start(
                functools.partial(serve_ops, cfg.ops.listen, metrics=metrics, health=live_health)
            )
        if manage_heap:
            freeze_startup_heap()  # everything made so far lives as long as the process
            await root.start(
                HeapKeeper(lambda: sender.active_streams, on_collect=metrics.heap_collected).run
            )
        task_status.started(app)
        await app.stop_requested.wait()
        await app.graceful_stop()


async def _watch_signals(
    current: Callable[[], App | None], cancel: trio.CancelScope, forced: list[int]
) -> None:
    """First SIGINT/SIGTERM: graceful stop within the deadline; second: stop at once."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for signum in signals:
            count += 1
            app = current()
            log.info("signal_received", signal=signal.Signals(signum).name, count=count)
            if count == 1 and app is not None:
                app.request_stop()
            else:
                if count > 1:
                    log.warning("shutdown_forced")
                    forced.append(signum)
                cancel.cancel()


async def _main(cfg: Config, *, embedded: bool) -> int:
    holder: list[App] = []

    def started(app: App) -> None:
        holder.append(app)

    async def bot(cancel: trio.CancelScope) -> None:
        if embedded:
            from musicbot.embedded import run_embedded_console

            await run_embedded_console(cfg, on_app=started, manage_heap=True)
        else:
            async with trio.open_nursery() as inner:
                # The process is ours alone (tests run serve() many times in one).
                started(await inner.start(functools.partial(serve, cfg, manage_heap=True)))
        cancel.cancel()

    failed: list[BaseException] = []
    forced: list[int] = []
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                _watch_signals, lambda: holder[0] if holder else None, nursery.cancel_scope, forced
            )
            nursery.start_soon(bot, nursery.cancel_scope)
    except* MusicBotError as group:
        failed.extend(_leaves(group))
    for exc in failed:
        print(f"error: {describe_failure(exc)}", file=sys.stderr)
        log.error("bot_stopped", error=describe_failure(exc), kind=type(exc).__name__)
    if failed or forced:
        return 1
    log.info("bot_stopped_cleanly")
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    """The real errors inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def describe_failure(exc: BaseException) -> str:
    """What stopped the bot, said so an operator knows what to do."""
    if isinstance(exc, Unauthorized):
        return (
            "Discord refused the bot token (HTTP 401): the token is invalid. Reset it in the "
            "Developer Portal (your application → Bot → Reset Token) and update DISCORD_TOKEN "
            "or the file named by [discord] token_file."
        )
    return str(exc)


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()


def run(cfg: Config) -> int:
    """``python -m musicbot run`` with a token: connect to Discord."""
    configure(cfg.log, secrets=cfg.secrets())
    try:
        return trio.run(functools.partial(_main, cfg, embedded=False))
    finally:
        _flush_logs()


def run_embedded(cfg: Config) -> int:
    """No token (or ``emulator``): the local Discord, the bot and a console in one process."""
    from musicbot.embedded import demo_log_config, show_only_warnings_on_terminal

    configure(demo_log_config(cfg), secrets=cfg.secrets())  # logs to a file in the data dir
    show_only_warnings_on_terminal()
    return trio.run(functools.partial(_main, cfg, embedded=True))


@asynccontextmanager
async def running_bot(cfg: Config, **kwargs: Any) -> AsyncIterator[App]:
    """For tests: the bot running in the background, stopped gracefully on exit."""
    async with trio.open_nursery() as nursery:
        app: App = await nursery.start(functools.partial(serve, cfg, **kwargs))
        try:
            yield app
        finally:
            app.request_stop()


__all__ = ["App", "run", "run_embedded", "running_bot", "serve"]
