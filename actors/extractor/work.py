"""The slow work of the extractor: cache lookups, safety checks, yt-dlp and ffmpeg.

Functions here run inside a flight task of the extractor actor (see ``actors.extractor.actor``);
they touch only the ``State`` that actor owns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Final

import attrs
import structlog
import trio

from actors.cache.actor import CacheHandle
from actors.extractor.messages import Extract, Failure, Resolve, Search
from musicbot.config import Config
from musicbot.errors import ActorDeadError, ActorTimeoutError
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import (
    Extraction,
    PlaylistInfo,
    SearchInfo,
    TrackInfo,
    is_playlist,
    playlist_from_info,
    track_from_entry,
    track_from_info,
)
from musicbot.extract.options import Mode, YtdlLogger, build_options, search_query
from musicbot.extract.probe import probe_stream
from musicbot.extract.ytdlp import extract_info
from musicbot.models.track import Track
from musicbot.safety import Refusal, check_url, guard_url

log = structlog.get_logger("actors.extractor")

# A cached stream URL is used only if it stays valid this long: enough to start playing.
STREAM_MARGIN: Final = 60.0
# ffmpeg asked for the length of a stream the site gave none for; short, it only reads a header.
PROBE_TIMEOUT: Final = 10.0

Result = Extraction | Failure
Waiter = Extract | Resolve | Search


@attrs.define(eq=False)
class State:
    """Owned by the actor and its flight tasks (one trio thread)."""

    config: Config
    cache: CacheHandle | None
    extra_extractors: Sequence[type]
    wall_clock: Callable[[], float]
    nursery: trio.Nursery
    limiter: trio.CapacityLimiter
    ffmpeg: str
    http_proxy: str | None = None  # the egress guard, for the ffmpeg probe (yt-dlp: config)
    flights: dict[str, list[Waiter]] = attrs.field(factory=dict)
    extractions: int = 0  # yt-dlp calls made (a test and a metric read it)


# ------------------------------------------------------------------ the slow work


def fresh(value: Extraction, now: float) -> bool:
    if isinstance(value, TrackInfo):
        expires = value.track.stream_expires_at
        return expires is None or expires - now > STREAM_MARGIN
    return True


async def run_ytdlp(st: State, query: str, mode: Mode) -> object:
    opts = build_options(
        st.config.extractor,
        mode=mode,
        playlist_cap=st.config.limits.max_playlist_import,
        logger=YtdlLogger(query=query[:200]),
    )
    st.extractions += 1
    job = functools.partial(extract_info, query, opts, st.extra_extractors)
    return await trio.to_thread.run_sync(job, limiter=st.limiter, abandon_on_cancel=True)


def cache_key(flight_key: str) -> str:
    """A forced re-extraction flies apart from normal ones but refreshes the same entry."""
    return flight_key.replace("url!:", "url:", 1)


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
    info = await run_ytdlp(st, url, Mode.URL)
    if not isinstance(info, dict):
        raise ExtractionError(Reason.UNKNOWN, f"yt-dlp returned {type(info).__name__}")
    if is_playlist(info):
        playlist = playlist_from_info(
            info, cap=st.config.limits.max_playlist_import, fallback_url=url
        )
        if not playlist.tracks:
            raise ExtractionError(Reason.NO_RESULTS, "empty playlist")
        return playlist
    track = track_from_info(
        info, now=st.wall_clock(), stream_ttl=st.config.cache.stream_ttl, requested_url=url
    )
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
        track = attrs.evolve(
            track, duration=track.duration or probe.duration, codec=track.codec or probe.codec
        )
    return TrackInfo(track=track)


async def search(st: State, text: str) -> Extraction:
    info = await run_ytdlp(st, search_query(st.config.extractor, text), Mode.SEARCH)
    entries = info.get("entries") if isinstance(info, dict) else None
    tracks: list[Track] = []
    for entry in entries or ():
        track = track_from_entry(entry) if isinstance(entry, dict) else None
        if track is None:
            continue
        try:
            check_url(track.webpage_url, st.config.extractor)
        except Refusal:
            continue
        tracks.append(track)
    if not tracks:
        raise ExtractionError(Reason.NO_RESULTS, f"no results for {text!r}")
    return SearchInfo(query=text, tracks=tuple(tracks[: st.config.extractor.search_results]))
