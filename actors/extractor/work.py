"""The slow work of the extractor: cache lookups, safety checks, yt-dlp and ffmpeg.

Functions here run inside a flight task of the extractor actor (see ``actors.extractor.actor``);
they touch only the ``State`` that actor owns.  yt-dlp itself runs in the worker processes of
``State.pool`` (:mod:`actors.extractor.pool`); what comes back is plain data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
import structlog
import trio

from actors.cache.actor import CacheHandle
from actors.extractor.messages import Extract, Failure, Related, Resolve, Search
from actors.extractor.pool import Pool
from musicbot.config import Config
from musicbot.errors import ActorDeadError, ActorTimeoutError
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import (
    Extraction,
    PlaylistInfo,
    SearchInfo,
    TrackInfo,
    from_wire,
)
from musicbot.extract.options import Mode, build_options, search_is_url, search_query
from musicbot.extract.probe import measure_duration, probe_stream
from musicbot.models.track import Track
from musicbot.safety import Refusal, check_url, guard_url
from musicbot.spotify import SpotifyClient

log = structlog.get_logger("actors.extractor")

# A cached stream URL is used only if it stays valid this long: enough to start playing.
STREAM_MARGIN: Final = 60.0
# ffmpeg asked for the length of a stream the site gave none for; short, it only reads a header.
PROBE_TIMEOUT: Final = 10.0

# Warnings yt-dlp prints on every link of some sites, which say nothing is wrong.
_ROUTINE: Final = re.compile(r"Falling back on generic information extractor")

Result = Extraction | Failure
Waiter = Extract | Resolve | Search | Related


@attrs.define(eq=False)
class State:
    """Owned by the actor and its flight tasks (one trio thread)."""

    config: Config
    cache: CacheHandle | None
    extractor_refs: Sequence[str]  # "module:Class" of extra InfoExtractors, for the workers
    wall_clock: Callable[[], float]
    nursery: trio.Nursery
    pool: Pool  # yt-dlp's worker processes
    limiter: trio.CapacityLimiter  # concurrent ffmpeg probes
    ffmpeg: str
    http_proxy: str | None = None  # the egress guard, for the ffmpeg probe (yt-dlp: config)
    spotify: SpotifyClient | None = None  # None: [spotify] keys not set (actors.extractor.spotify)
    flights: dict[str, list[Waiter]] = attrs.field(factory=dict)
    extractions: int = 0  # yt-dlp calls made (a test and a metric read it)
    warned: dict[str, float] = attrs.field(factory=dict)  # reason → when the operator was told


# ------------------------------------------------------------------ the slow work


def fresh(value: Extraction, now: float) -> bool:
    if isinstance(value, TrackInfo):
        expires = value.track.stream_expires_at
        return expires is None or expires - now > STREAM_MARGIN
    return True


def extractor_ref(cls: type) -> str:
    """``module:QualName`` of an extractor class, so a worker process can import it."""
    if "<locals>" in cls.__qualname__:
        raise ValueError(f"{cls.__qualname__} is not importable: define it at module level")
    return f"{cls.__module__}:{cls.__qualname__}"


async def run_ytdlp(st: State, query: str, mode: Mode) -> Extraction:
    """yt-dlp in a worker process; the worker parses its answer into an Extraction."""
    job: dict[str, Any] = {
        "kind": "search" if mode is Mode.SEARCH else "url",
        "query": query,
        "opts": build_options(
            st.config.extractor, mode=mode, playlist_cap=st.config.limits.max_playlist_import
        ),
        "extractors": list(st.extractor_refs),
        "now": st.wall_clock(),
        "stream_ttl": st.config.cache.stream_ttl,
        "playlist_cap": st.config.limits.max_playlist_import,
    }
    st.extractions += 1
    reply = await st.pool.run(job)
    for warning in reply.get("warnings") or ():
        text = str(warning)[:500]
        level = log.debug if _ROUTINE.search(text) else log.warning
        level("ytdlp_warning", query=query[:200], message=text)
    error = reply.get("error")
    if isinstance(error, dict):
        try:
            reason = Reason(str(error.get("reason")))
        except ValueError:
            reason = Reason.UNKNOWN
        raise ExtractionError(reason, str(error.get("detail") or "")[:500])
    ok = reply.get("ok")
    if not isinstance(ok, dict):
        raise ExtractionError(Reason.WORKER, "the worker answered neither ok nor error")
    return from_wire(ok)


def cache_key(flight_key: str) -> str:
    """A forced re-extraction flies apart from normal ones but refreshes the same entry."""
    for forced in ("url!:", "spotify!:"):
        if flight_key.startswith(forced):
            return flight_key.replace("!:", ":", 1)
    return flight_key


CACHE_DOWN = (
    ActorDeadError,
    ActorTimeoutError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


async def cached(st: State, key: str, *, read: bool) -> Result | None:
    if st.cache is None or not read:
        return None
    try:
        found = await st.cache.get(cache_key(key))
    except CACHE_DOWN as exc:  # a dead cache makes us slower, not broken
        log.warning("cache_unavailable", error=str(exc))
        return None
    if found is None or isinstance(found, ExtractionError):
        return found
    return found if fresh(found, st.wall_clock()) else None


async def store(st: State, key: str, result: Result) -> None:
    if st.cache is None:
        return
    key = cache_key(key)
    try:
        if isinstance(result, ExtractionError) and not result.reason.transient:
            await st.cache.put_failure(key, result)
        elif isinstance(result, TrackInfo):
            expires = result.track.stream_expires_at
            ttl = st.config.cache.stream_ttl
            if expires is not None:
                ttl = min(ttl, expires - st.wall_clock() - STREAM_MARGIN)
            await st.cache.put(key, result, ttl)
        elif isinstance(result, PlaylistInfo | SearchInfo):
            await st.cache.put(key, result, st.config.cache.ttl)
    except CACHE_DOWN as exc:
        log.warning("cache_unavailable", error=str(exc))


async def extract_url(st: State, url: str, *, check_domain: bool) -> Extraction:
    await guard_url(url, st.config.extractor, check_domain=check_domain)
    result = await run_ytdlp(st, url, Mode.URL)
    if isinstance(result, PlaylistInfo):
        return result
    if not isinstance(result, TrackInfo):
        raise ExtractionError(Reason.UNKNOWN, "a link gave a search result")
    track = result.track
    await guard_url(track.stream_url, st.config.extractor, check_domain=False)
    if (track.duration is None or track.codec is None) and not track.is_live:
        # Half of what is left of the flight's time at most: a slow probe costs the duration
        # (or the passthrough), never the track.
        left = trio.current_effective_deadline() - trio.current_time()
        async with st.limiter:
            probe = await probe_stream(
                track.stream_url,
                track.http_headers,
                ffmpeg=st.ffmpeg,
                timeout=min(PROBE_TIMEOUT, left / 2),
                http_proxy=st.http_proxy,
            )
        # ffmpeg's guess from the bitrate is not trusted where the host cannot seek; a length
        # nobody could read is measured (else it would pass for live and escape the limit).
        guess = None if probe.estimated and track.seekable is False else probe.duration
        duration = track.duration or guess
        if not duration:
            duration = await _measure(st, track)
        track = attrs.evolve(track, duration=duration, codec=track.codec or probe.codec)
    return TrackInfo(track=track)


async def _measure(st: State, track: Track) -> float | None:
    """The real length of a stream nobody could tell the length of, by reading it once; a
    lower bound past ``max_track_seconds`` is enough to refuse it.  None when the stream goes
    on past the time left (a radio stream the site did not call live) or cannot be read."""
    left = trio.current_effective_deadline() - trio.current_time()
    async with st.limiter:
        measured = await measure_duration(
            track.stream_url,
            track.http_headers,
            ffmpeg=st.ffmpeg,
            timeout=left / 2,
            http_proxy=st.http_proxy,
        )
    log.debug("duration_measured", seconds=measured.seconds, complete=measured.complete)
    if measured.complete and measured.seconds > 0:
        return measured.seconds
    if measured.seconds > st.config.limits.max_track_seconds:
        return measured.seconds
    return None


async def search(st: State, text: str) -> Extraction:
    """Search words through ``[extractor] search_provider``: a yt-dlp search prefix, or a URL
    template (the operator's own search page, e.g. the demo media server's ``/search``), which
    is checked by address like any link but is not subject to the allow-list."""
    query = search_query(st.config.extractor, text)
    if search_is_url(st.config.extractor):
        await guard_url(query, st.config.extractor, check_domain=False)
    result = await run_ytdlp(st, query, Mode.SEARCH)
    found = result.tracks if isinstance(result, SearchInfo | PlaylistInfo) else ()
    tracks: list[Track] = []
    for track in found:
        try:
            check_url(track.webpage_url, st.config.extractor)
        except Refusal:
            continue
        tracks.append(track)
    if not tracks:
        raise ExtractionError(Reason.NO_RESULTS, f"no results for {text!r}")
    return SearchInfo(query=text, tracks=tuple(tracks[: st.config.extractor.search_results]))
