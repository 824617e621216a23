"""Process metrics: one :class:`Metrics` object owning its own Prometheus registry.

Theory: every layer that has something to count gets the same ``Metrics`` instance passed in
(no global default registry, so two bots in one test process never share figures) and calls a
small typed method (``track_started(guild_id)``, ``rest_request(route, status)``, ...).  Nothing
outside this module touches ``prometheus_client`` types.

Gauges that describe *membership* (guilds, guild actors, voice connections, players playing) are
kept as sets of guild ids and exported through ``Gauge.set_function``: ``voice_connected(g)``
twice, or ``voice_disconnected(g)`` for a guild that never connected, cannot make the figure
drift, and a crashed actor's ``finally`` clause restores it.

Calls are synchronous and never block.  The prometheus primitives are thread-safe, but the
per-guild sets and dicts are plain Python objects: call the methods from Trio tasks (the main
thread), never from a ``to_thread`` worker; record a worker's result after ``run_sync`` returns.

Label values must come from small fixed vocabularies (close code names, route templates such as
``POST /channels/{channel_id}/messages``, short failure codes) because every distinct value
becomes a time series.  Guild ids are therefore *not* labels; per-guild figures live in plain
counters available through :meth:`Metrics.guild_snapshot`.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable, Iterable
from typing import Final

import attrs
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics import MetricWrapperBase

NAMESPACE: Final = "musicbot"
# Extraction is a yt-dlp round trip: tens of ms from the cache path up to the 30 s timeout.
EXTRACTION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)


@attrs.define
class _GuildCounts:
    tracks_started: int = 0
    tracks_finished: int = 0
    tracks_failed: int = 0
    frames_sent: int = 0
    frames_late: int = 0


@attrs.frozen(kw_only=True)
class GuildFigures:
    """Plain per-guild figures for the /metrics slash command."""

    guild_id: int
    actor_running: bool
    voice_connected: bool
    playing: bool
    tracks_started: int
    tracks_finished: int
    tracks_failed: int
    frames_sent: int
    frames_late: int


@attrs.frozen(kw_only=True)
class MetricsSnapshot:
    """Plain process-wide figures (no prometheus types) for embeds and logs."""

    uptime_seconds: float
    guilds: int
    guild_actors: int
    voice_connections: int
    players_playing: int
    tracks_started: int
    tracks_finished: int
    tracks_failed: int
    tracks_failed_by_reason: dict[str, int]
    extractions: int
    extraction_seconds_avg: float | None
    cache_hits: int
    cache_misses: int
    cache_evictions: int
    gateway_latency_seconds: dict[int, float]
    gateway_reconnects: int
    gateway_resumes: int
    voice_reconnects: int
    rest_requests: int
    rest_rate_limited: int
    events_dropped: int
    frames_sent: int
    frames_late: int
    supervisor_restarts: int
    cpu_seconds: float | None
    resident_memory_bytes: float | None

    @property
    def cache_hit_ratio(self) -> float | None:
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else None


def _sum(metric: MetricWrapperBase, sample_name: str) -> float:
    """Sum of every labelled child's sample called ``sample_name``."""
    return sum(
        s.value for family in metric.collect() for s in family.samples if s.name == sample_name
    )


def _by_label(metric: MetricWrapperBase, sample_name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in metric.collect():
        for s in family.samples:
            if s.name == sample_name:
                key = s.labels.get(label, "")
                out[key] = out.get(key, 0.0) + s.value
    return out


class Metrics:
    """Every figure the bot exports, on a private :class:`CollectorRegistry`."""

    def __init__(
        self,
        *,
        version: str = "",
        clock: Callable[[], float] = time.monotonic,
        process_collector: bool = True,
    ) -> None:
        self.registry: Final = CollectorRegistry()
        self._clock = clock
        self._started_at = clock()
        reg = self.registry
        ns = NAMESPACE

        self._guilds: set[int] = set()
        self._actors: set[int] = set()
        self._voice: set[int] = set()
        self._playing: set[int] = set()
        self._per_guild: dict[int, _GuildCounts] = {}

        def gauge(name: str, doc: str, fn: Callable[[], float]) -> None:
            Gauge(name, doc, namespace=ns, registry=reg).set_function(fn)

        gauge("guilds", "Guilds the bot is a member of (this process).", lambda: len(self._guilds))
        gauge("guild_actors", "Running guild actors.", lambda: len(self._actors))
        gauge("voice_connections", "Connected voice sessions.", lambda: len(self._voice))
        gauge(
            "players_playing", "Guild players currently sending audio.", lambda: len(self._playing)
        )
        gauge("uptime_seconds", "Seconds since this process started the bot.", self.uptime)
        Gauge(
            "info",
            "Build information (value is always 1).",
            ["version"],
            namespace=ns,
            registry=reg,
        ).labels(version=version or "unknown").set(1)

        self._extractor_info = Gauge(
            "extractor_info",
            "yt-dlp version in use (value is always 1).",
            ["version"],
            namespace=ns,
            registry=reg,
        )
        self._extractor_released: datetime.date | None = None
        gauge(
            "extractor_age_days",
            "Days since the yt-dlp in use was released (YouTube breaks old ones within weeks).",
            self._extractor_age,
        )

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, namespace=ns, registry=reg)

        self._tracks_started = counter("tracks_started", "Tracks that began playing.")
        self._tracks_finished = counter("tracks_finished", "Tracks that played to their end.")
        self._tracks_failed = counter(
            "tracks_failed", "Tracks that could not be played, by reason.", "reason"
        )
        self._extraction = Histogram(
            "extraction_seconds",
            "Time one extraction (yt-dlp) took, by outcome.",
            ["outcome"],
            namespace=ns,
            registry=reg,
            buckets=EXTRACTION_BUCKETS,
        )
        self._cache_hits = counter("cache_hits", "Cache lookups answered from the cache.")
        self._cache_misses = counter("cache_misses", "Cache lookups that had to extract.")
        self._cache_evictions = counter(
            "cache_evictions", "Cache entries removed, by reason (lru, expired).", "reason"
        )
        self._cache_entries = Gauge(
            "cache_entries", "Entries held by the extraction cache.", namespace=ns, registry=reg
        )
        self._gw_latency = Gauge(
            "gateway_latency_seconds",
            "Last heartbeat round trip, per shard.",
            ["shard"],
            namespace=ns,
            registry=reg,
        )
        self._gw_reconnects = counter(
            "gateway_reconnects", "Gateway reconnections, by shard and cause.", "shard", "cause"
        )
        self._gw_resumes = counter(
            "gateway_resumes", "Gateway sessions resumed, by shard and cause.", "shard", "cause"
        )
        self._gw_identifies = counter(
            "gateway_identifies", "IDENTIFY payloads sent (1000 a day allowed).", "shard"
        )
        self._voice_reconnects = counter(
            "voice_reconnects", "Voice connection reconnections, by cause.", "cause"
        )
        self._rest_requests = counter(
            "rest_requests", "REST requests completed, by route and status.", "route", "status"
        )
        self._rest_429 = counter(
            "rest_rate_limited", "REST 429 responses, by route and scope.", "route", "scope"
        )
        self._events_dropped = counter(
            "events_dropped", "Events dropped for a full subscriber.", "subscriber"
        )
        self._frames_sent = counter("audio_frames_sent", "Opus frames (20 ms) sent to voice.")
        self._frames_late = counter("audio_frames_late", "Opus frames sent after their slot.")
        self._restarts = counter(
            "supervisor_restarts", "Children restarted, by supervisor.", "supervisor"
        )
        self._heap_full = counter(
            "heap_full_collections",
            "Full garbage collections the heap keeper ran, by reason (idle, memory).",
            "reason",
        )
        self._heap_pause = counter(
            "heap_full_collection_seconds",
            "Seconds the process (its voice clock with it) stood still in them, by reason.",
            "reason",
        )
        self._process: ProcessCollector | None = None
        if process_collector:
            # process_cpu_seconds_total, process_resident_memory_bytes, ... (Linux /proc).
            self._process = ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)

    # ---------------------------------------------------------------- the extractor

    def extractor(self, version: str, released: datetime.date | None) -> None:
        """The yt-dlp in use (set at start): ``musicbot_extractor_info{version}`` and the age."""
        self._extractor_info.clear()
        self._extractor_info.labels(version=version or "unknown").set(1)
        self._extractor_released = released

    def _extractor_age(self) -> float:
        if self._extractor_released is None:
            return math.nan
        return float((datetime.datetime.now(datetime.UTC).date() - self._extractor_released).days)

    # ---------------------------------------------------------------- membership gauges

    def uptime(self) -> float:
        """Seconds since the metrics were created (the process start)."""
        return self._clock() - self._started_at

    def guild_joined(self, guild_id: int) -> None:
        """GUILD_CREATE (available) for a guild this process serves."""
        self._guilds.add(guild_id)

    def guild_left(self, guild_id: int) -> None:
        """GUILD_DELETE or the shard that served it went away; forgets its per-guild figures."""
        self._guilds.discard(guild_id)
        self._per_guild.pop(guild_id, None)

    def guild_actor_up(self, guild_id: int) -> None:
        """Guild ``guild_id``'s actor started."""
        self._actors.add(guild_id)

    def guild_actor_down(self, guild_id: int) -> None:
        """Guild ``guild_id``'s actor stopped: it no longer counts as running, in voice or
        playing."""
        self._actors.discard(guild_id)
        self._voice.discard(guild_id)
        self._playing.discard(guild_id)

    def voice_connected(self, guild_id: int) -> None:
        """Guild ``guild_id`` joined voice."""
        self._voice.add(guild_id)

    def voice_disconnected(self, guild_id: int) -> None:
        """Guild ``guild_id`` left voice (so it is not playing either)."""
        self._voice.discard(guild_id)
        self._playing.discard(guild_id)

    def player_playing(self, guild_id: int, playing: bool) -> None:
        """Whether guild ``guild_id``'s player is playing now."""
        if playing:
            self._playing.add(guild_id)
        else:
            self._playing.discard(guild_id)

    # ---------------------------------------------------------------- tracks and audio

    def _guild(self, guild_id: int) -> _GuildCounts:
        counts = self._per_guild.get(guild_id)
        if counts is None:
            counts = self._per_guild[guild_id] = _GuildCounts()
        return counts

    def track_started(self, guild_id: int) -> None:
        """Count a track that started in guild ``guild_id``."""
        self._tracks_started.inc()
        self._guild(guild_id).tracks_started += 1

    def track_finished(self, guild_id: int) -> None:
        """Count a track of guild ``guild_id`` that ended."""
        self._tracks_finished.inc()
        self._guild(guild_id).tracks_finished += 1

    def track_failed(self, guild_id: int, reason: str) -> None:
        """``reason`` is a short code (``extract_error``, ``ffmpeg_error``, ``too_long``...)."""
        self._tracks_failed.labels(reason=reason).inc()
        self._guild(guild_id).tracks_failed += 1

    def audio_frames_sent(self, guild_id: int, n: int = 1) -> None:
        """Count ``n`` audio frames sent for guild ``guild_id``."""
        self._frames_sent.inc(n)
        self._guild(guild_id).frames_sent += n

    def audio_frames_late(self, guild_id: int, n: int = 1) -> None:
        """Count ``n`` audio frames of guild ``guild_id`` sent late."""
        self._frames_late.inc(n)
        self._guild(guild_id).frames_late += n

    # ---------------------------------------------------------------- extraction and cache

    def observe_extraction(self, seconds: float, *, ok: bool = True) -> None:
        """Record an extraction that took ``seconds``, as ok or error."""
        self._extraction.labels(outcome="ok" if ok else "error").observe(seconds)

    def cache_hit(self) -> None:
        """Count a cache hit."""
        self._cache_hits.inc()

    def cache_miss(self) -> None:
        """Count a cache miss."""
        self._cache_misses.inc()

    def cache_evicted(self, n: int = 1, *, reason: str = "lru") -> None:
        """Count ``n`` cache evictions, by ``reason``."""
        self._cache_evictions.labels(reason=reason).inc(n)

    def cache_entries(self, n: int) -> None:
        """Set the number of entries in the extraction cache."""
        self._cache_entries.set(n)

    # ---------------------------------------------------------------- gateway, voice, REST

    def gateway_latency(self, shard_id: int, seconds: float) -> None:
        """Record the heartbeat round trip of shard ``shard_id``."""
        self._gw_latency.labels(shard=str(shard_id)).set(seconds)

    def gateway_reconnect(self, shard_id: int, cause: str) -> None:
        """``cause``: a close code name, ``zombie``, ``op7_reconnect``, ``op9``, ``network``..."""
        self._gw_reconnects.labels(shard=str(shard_id), cause=cause).inc()

    def gateway_resumed(self, shard_id: int, cause: str) -> None:
        """Count a successful RESUME of shard ``shard_id``, by ``cause``."""
        self._gw_resumes.labels(shard=str(shard_id), cause=cause).inc()

    def gateway_identify(self, shard_id: int) -> None:
        """Count an IDENTIFY sent by shard ``shard_id``."""
        self._gw_identifies.labels(shard=str(shard_id)).inc()

    def voice_reconnect(self, cause: str) -> None:
        """Count a voice reconnect, by ``cause``."""
        self._voice_reconnects.labels(cause=cause).inc()

    def rest_request(self, route: str, status: int) -> None:
        """``route`` is the template (``GET /channels/{channel_id}``), never a concrete URL."""
        self._rest_requests.labels(route=route, status=str(status)).inc()

    def rest_rate_limited(self, route: str, scope: str = "user") -> None:
        """A 429; ``scope`` is Discord's ``X-RateLimit-Scope`` (user, global, shared)."""
        self._rest_429.labels(route=route, scope=scope).inc()

    # ---------------------------------------------------------------- actors

    def event_dropped(self, subscriber: str, n: int = 1) -> None:
        """Count ``n`` telemetry events dropped for ``subscriber`` (its buffer was full)."""
        self._events_dropped.labels(subscriber=subscriber).inc(n)

    def supervisor_restart(self, supervisor: str) -> None:
        """Count a child restart by ``supervisor``."""
        self._restarts.labels(supervisor=supervisor).inc()

    def heap_collected(self, reason: str, seconds: float) -> None:
        """Count a full collection the heap keeper ran, and the pause it took."""
        self._heap_full.labels(reason=reason).inc()
        self._heap_pause.labels(reason=reason).inc(seconds)

    # ---------------------------------------------------------------- reading

    def _process_figures(self) -> tuple[float | None, float | None]:
        cpu: float | None = None
        rss: float | None = None
        if self._process is not None:
            for family in self._process.collect():
                for s in family.samples:
                    if s.name == "process_cpu_seconds_total":
                        cpu = s.value
                    elif s.name == "process_resident_memory_bytes":
                        rss = s.value
        return cpu, rss

    def snapshot(self) -> MetricsSnapshot:
        """Process-wide figures as plain numbers."""
        ext_count = _sum(self._extraction, "musicbot_extraction_seconds_count")
        ext_sum = _sum(self._extraction, "musicbot_extraction_seconds_sum")
        cpu, rss = self._process_figures()
        latency = _by_label(self._gw_latency, "musicbot_gateway_latency_seconds", "shard")
        failed = _by_label(self._tracks_failed, "musicbot_tracks_failed_total", "reason")
        return MetricsSnapshot(
            uptime_seconds=self.uptime(),
            guilds=len(self._guilds),
            guild_actors=len(self._actors),
            voice_connections=len(self._voice),
            players_playing=len(self._playing),
            tracks_started=int(_sum(self._tracks_started, "musicbot_tracks_started_total")),
            tracks_finished=int(_sum(self._tracks_finished, "musicbot_tracks_finished_total")),
            tracks_failed=int(sum(failed.values())),
            tracks_failed_by_reason={k: int(v) for k, v in failed.items()},
            extractions=int(ext_count),
            extraction_seconds_avg=ext_sum / ext_count if ext_count else None,
            cache_hits=int(_sum(self._cache_hits, "musicbot_cache_hits_total")),
            cache_misses=int(_sum(self._cache_misses, "musicbot_cache_misses_total")),
            cache_evictions=int(_sum(self._cache_evictions, "musicbot_cache_evictions_total")),
            gateway_latency_seconds={int(k): v for k, v in latency.items()},
            gateway_reconnects=int(_sum(self._gw_reconnects, "musicbot_gateway_reconnects_total")),
            gateway_resumes=int(_sum(self._gw_resumes, "musicbot_gateway_resumes_total")),
            voice_reconnects=int(_sum(self._voice_reconnects, "musicbot_voice_reconnects_total")),
            rest_requests=int(_sum(self._rest_requests, "musicbot_rest_requests_total")),
            rest_rate_limited=int(_sum(self._rest_429, "musicbot_rest_rate_limited_total")),
            events_dropped=int(_sum(self._events_dropped, "musicbot_events_dropped_total")),
            frames_sent=int(_sum(self._frames_sent, "musicbot_audio_frames_sent_total")),
            frames_late=int(_sum(self._frames_late, "musicbot_audio_frames_late_total")),
            supervisor_restarts=int(_sum(self._restarts, "musicbot_supervisor_restarts_total")),
            cpu_seconds=cpu,
            resident_memory_bytes=rss,
        )

    def guild_snapshot(self, guild_id: int) -> GuildFigures:
        """Figures of one guild (zeros for a guild that has not played anything)."""
        c = self._per_guild.get(guild_id, _GuildCounts())
        return GuildFigures(
            guild_id=guild_id,
            actor_running=guild_id in self._actors,
            voice_connected=guild_id in self._voice,
            playing=guild_id in self._playing,
            tracks_started=c.tracks_started,
            tracks_finished=c.tracks_finished,
            tracks_failed=c.tracks_failed,
            frames_sent=c.frames_sent,
            frames_late=c.frames_late,
        )

    def known_guilds(self) -> Iterable[int]:
        """Guild ids with per-guild figures (for an owner-only listing)."""
        return tuple(self._per_guild)
