"""How the running bot feeds :class:`Metrics` and :class:`HealthState`.

This module is part of the composition root (``musicbot/app.py`` calls it), split out to keep
``app.py`` short; like ``app.py`` it may import actors.  The rest of ``musicbot.ops`` stays in the
protocol layer and imports no actor.

Theory: nothing in the actors calls Prometheus.  Figures reach :class:`Metrics` four ways:

* **hooks the layers already expose**: the shards' :class:`~musicbot.gateway.state.GatewayMetrics`
  (through :class:`GatewayObserver`, which also writes the shards' health), the REST client's
  ``on_response`` (:func:`rest_observer`), the event bus's ``on_drop``, the guild supervisor's
  ``on_restart``;
* **a wrapper**: :class:`TimedExtractor` times every request to the extractor actor;
* **the event bus**: one subscriber (:func:`run_recorder`) counts tracks started / finished /
  failed and voice connects / disconnects;
* **sampling** once a second by the same recorder: the guild supervisor's children (guild
  actors), the router's guild map (guilds), the :class:`AudioBoard` (frames, playing, voice
  health), the cache's own statistics (hits, misses, evictions) and the shards' states (health).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, assert_never

import attrs
import structlog
import trio

from actors import events as ev
from actors.extractor import ExtractorHandle
from actors.extractor.messages import ExtractOutcome, SearchResult
from actors.kit.supervisor import SupervisorHandle
from musicbot.gateway.handle import ShardHandle
from musicbot.gateway.state import ShardState
from musicbot.models.track import Track
from musicbot.ops.audio import AudioBoard
from musicbot.ops.health import HealthInputs, HealthState, ShardStatus
from musicbot.ops.metrics import Metrics

log = structlog.get_logger(__name__)

SAMPLE_INTERVAL: Final = 1.0  # seconds between two samples of counters and states
EVENT_BUFFER: Final = 256  # the recorder's bus subscription; drops are counted like any other
CACHE_ASK_TIMEOUT: Final = 1.0
MAX_REASON: Final = 40  # characters of a failure reason label (a small, fixed vocabulary)

_RECONNECTING_STATES: Final = frozenset(
    {
        ShardState.WAITING_IDENTIFY,
        ShardState.CONNECTING,
        ShardState.IDENTIFYING,
        ShardState.RESUMING,
        ShardState.BACKING_OFF,
    }
)
_REASON_VALUE = re.compile(r"reason=<\w+\.\w+: '([a-z0-9_]+)'>")
_CLASS_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class GatewayObserver:
    """The shards' metrics hook: counts in :class:`Metrics` and writes the shards' health."""

    def __init__(
        self,
        metrics: Metrics,
        health: HealthState,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._clock = clock

    def gateway_latency(self, shard_id: int, seconds: float) -> None:
        self._metrics.gateway_latency(shard_id, seconds)
        self._health.heartbeat_ack(shard_id, self._clock(), seconds)

    def gateway_reconnect(self, shard_id: int, cause: str) -> None:
        self._metrics.gateway_reconnect(shard_id, cause)
        now = self._clock()
        self._health.shard_status(shard_id, ShardStatus.RECONNECTING, now)
        if cause == "zombie":
            self._health.shard_zombie(shard_id, now)

    def gateway_resumed(self, shard_id: int, cause: str) -> None:
        self._metrics.gateway_resumed(shard_id, cause)
        self._health.shard_status(shard_id, ShardStatus.CONNECTED, self._clock())

    def gateway_identify(self, shard_id: int) -> None:
        self._metrics.gateway_identify(shard_id)


def rest_observer(
    metrics: Metrics, health: HealthState, *, clock: Callable[[], float] = trio.current_time
) -> Callable[[str, int | None, str], None]:
    """The REST client's ``on_response(route, status, scope)``; status None: transport error.

    Any answer from Discord below 500 proves it reachable; a 5xx or no answer is a failure.
    Transport errors are counted as status 0.
    """

    def on_response(route: str, status: int | None, scope: str) -> None:
        now = clock()
        metrics.rest_request(route, status or 0)
        if status == 429:
            metrics.rest_rate_limited(route, scope or "user")
        if status is None or status >= 500:
            health.rest_failed(now)
        else:
            health.rest_ok(now)

    return on_response


@attrs.frozen
class TimedExtractor(ExtractorHandle):
    """The extractor handle, timing every request into ``observe(seconds, ok)``.

    The time includes requests the cache answered (they are fast), as the user sees it."""

    observe: Callable[[float, bool], None] = lambda _s, _ok: None

    async def _timed(self, call: Callable[[], Awaitable[Any]]) -> Any:
        started = trio.current_time()
        ok = False
        try:
            result = await call()
            ok = True
            return result
        finally:
            self.observe(trio.current_time() - started, ok)

    async def extract(self, query: str, requester_id: int | None = None) -> ExtractOutcome:
        result: ExtractOutcome = await self._timed(
            lambda: super(TimedExtractor, self).extract(query, requester_id)
        )
        return result

    async def resolve(self, track: Track, *, force: bool = False) -> Track:
        result: Track = await self._timed(
            lambda: super(TimedExtractor, self).resolve(track, force=force)
        )
        return result

    async def search(self, text: str, requester_id: int | None = None) -> SearchResult:
        result: SearchResult = await self._timed(
            lambda: super(TimedExtractor, self).search(text, requester_id)
        )
        return result

    @classmethod
    def wrap(cls, handle: ExtractorHandle, metrics: Metrics) -> TimedExtractor:
        return cls(
            handle.inbox,
            handle.timeout,
            lambda seconds, ok: metrics.observe_extraction(seconds, ok=ok),
        )


def failure_reason(error: str) -> str:
    """A short label from ``TrackFailed.error`` (an exception's repr): the extraction reason
    (``unavailable``, ``too_long``...) when there is one, else the class name in snake case."""
    found = _REASON_VALUE.search(error)
    if found:
        return found.group(1)[:MAX_REASON]
    name = _CLASS_NAME.match(error)
    if not name:
        return "unknown"
    return _CAMEL.sub("_", name.group(1)).lower()[:MAX_REASON]


def record_event(metrics: Metrics, event: ev.Event) -> None:
    """One bus event into the counters."""
    match event:
        case ev.TrackStarted(guild_id=guild_id):
            metrics.track_started(guild_id)
        case ev.TrackFinished(guild_id=guild_id):
            metrics.track_finished(guild_id)
        case ev.TrackFailed(guild_id=guild_id, error=error):
            metrics.track_failed(guild_id, failure_reason(error))
        case ev.VoiceConnected(guild_id=guild_id):
            metrics.voice_connected(guild_id)
        case ev.VoiceDisconnected(guild_id=guild_id):
            metrics.voice_disconnected(guild_id)
        case ev.QueueEmpty(guild_id=guild_id):
            metrics.player_playing(guild_id, False)
        case ev.TrackProcessed() | ev.PlaybackError():
            pass  # extraction time is measured by TimedExtractor; errors end as TrackFailed
        case _:
            assert_never(event)


def shard_status(state: ShardState, was_ready: bool) -> ShardStatus:
    """The health model's view of a shard's connection state."""
    if state is ShardState.READY:
        return ShardStatus.CONNECTED
    if state is ShardState.STOPPED:
        return ShardStatus.DISCONNECTED
    if state in _RECONNECTING_STATES and was_ready:
        return ShardStatus.RECONNECTING
    return ShardStatus.CONNECTING


@attrs.define(kw_only=True)
class Sources:
    """What the recorder samples; callables so that tests can give plain values."""

    shards: Callable[[], Iterable[ShardHandle]]
    guild_actors: Callable[[], Iterable[int]]
    guilds: Callable[[], Iterable[int]]
    cache_stats: Callable[[], Awaitable[Any]] | None = None


class Recorder:
    """The sampling half of the recorder (state kept between two samples)."""

    def __init__(self, metrics: Metrics, health: HealthState, board: AudioBoard) -> None:
        self.metrics = metrics
        self.health = health
        self.board = board
        self._actors: set[int] = set()
        self._guilds: set[int] = set()
        self._ready_once: set[int] = set()
        self._cache: dict[str, int] = {}

    def sample_shards(self, shards: Iterable[ShardHandle]) -> None:
        now = trio.current_time()
        handles = list(shards)
        if handles:
            self.health.set_expected_shards(len(handles))
        for h in handles:
            if h.state is ShardState.READY:
                self._ready_once.add(h.shard_id)
            status = shard_status(h.state, h.shard_id in self._ready_once)
            self.health.shard_status(h.shard_id, status, now)

    def sample_members(self, actors: Iterable[int], guilds: Iterable[int]) -> None:
        now_actors, now_guilds = set(actors), set(guilds)
        for g in now_actors - self._actors:
            self.metrics.guild_actor_up(g)
        for g in self._actors - now_actors:
            self.metrics.guild_actor_down(g)
        for g in now_guilds - self._guilds:
            self.metrics.guild_joined(g)
        for g in self._guilds - now_guilds:
            self.metrics.guild_left(g)
        self._actors, self._guilds = now_actors, now_guilds

    def sample_audio(self) -> None:
        sample = self.board.sample()
        self.health.voice(healthy=sample.voice_healthy, total=len(sample.voice_held))

    def sample_cache(self, stats: Any) -> None:
        """``stats``: the cache's CacheStats (cumulative hits, misses, evictions, expirations)."""
        m = self.metrics
        grown = {}
        for name in ("hits", "misses", "evictions", "expirations"):
            value = int(getattr(stats, name, 0))
            grown[name] = max(0, value - self._cache.get(name, 0))
            self._cache[name] = value
        for _ in range(grown["hits"]):
            m.cache_hit()
        for _ in range(grown["misses"]):
            m.cache_miss()
        if grown["evictions"]:
            m.cache_evicted(grown["evictions"], reason="lru")
        if grown["expirations"]:
            m.cache_evicted(grown["expirations"], reason="expired")
        m.cache_entries(int(getattr(stats, "size", 0)))

    async def sample(self, sources: Sources) -> None:
        self.sample_shards(sources.shards())
        self.sample_members(sources.guild_actors(), sources.guilds())
        self.sample_audio()
        if sources.cache_stats is not None:
            with trio.move_on_after(CACHE_ASK_TIMEOUT):
                try:
                    self.sample_cache(await sources.cache_stats())
                except Exception as exc:  # the cache restarting must not stop the figures
                    log.debug("metrics_cache_stats_failed", error=repr(exc))


class LiveHealth:
    """The health source for the ops server and /health: the shards' states are read at the
    moment of the question (cheap, synchronous), the rest as last sampled."""

    def __init__(self, recorder: Recorder, shards: Callable[[], Iterable[ShardHandle]]) -> None:
        self._recorder = recorder
        self._shards = shards

    def health_inputs(self) -> HealthInputs:
        self._recorder.sample_shards(self._shards())
        return self._recorder.health.health_inputs()


def running_children(guilds: SupervisorHandle[int, Any]) -> Callable[[], list[int]]:
    def keys() -> list[int]:
        return [int(c.key) for c in guilds.which_children() if c.running]  # type: ignore[call-overload]

    return keys


async def run_recorder(
    *,
    recorder: Recorder,
    bus: ev.EventBus,
    sources: Sources,
    interval: float = SAMPLE_INTERVAL,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Count bus events and sample every ``interval`` seconds until cancelled."""
    async with (
        bus.subscribe(name="metrics", buffer=EVENT_BUFFER) as events,
        trio.open_nursery() as nursery,
    ):

        async def consume() -> None:
            async for event in events:
                record_event(recorder.metrics, event)

        nursery.start_soon(consume)
        await recorder.sample(sources)
        task_status.started()
        while True:
            await trio.sleep(interval)
            await recorder.sample(sources)
