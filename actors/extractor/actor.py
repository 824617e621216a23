"""The extractor actor: turns what a user typed into playable tracks.

Theory.

* The loop never blocks.  Each request joins or starts a *flight*: a task in the actor's own
  nursery that does the slow work (cache lookup, DNS check, yt-dlp in one of at most
  ``[extractor] workers`` worker *processes*, :mod:`actors.extractor.pool`) within
  ``[extractor] timeout`` and then answers every request waiting on it through their reply
  channels.  A flight that times out or is cancelled kills its worker process.
* Single-flight: requests are keyed (``url:<link>``, ``search:<provider><N>:<words>``); a
  request whose key is already in flight just adds itself to the waiters, so ten users pasting
  the same link cause one extraction.  The flights table is only touched by this actor's tasks,
  all on one trio thread, and never across an ``await`` between a check and its update.
* The extractor, not its callers, consults the cache: a fresh entry answers without yt-dlp; a
  resolved track is cached until shortly before its stream URL expires (at most
  ``[cache] stream_ttl``); flat playlists and searches for ``[cache] ttl``; lasting failures
  (removed, private…) for ``[cache] negative_ttl``.
* Safety: the link is checked (``musicbot.safety.guard_url``) right before extraction, with a
  fresh DNS lookup, and the stream URL yt-dlp returns is checked again (addresses only: it lives
  on a CDN the allow-list cannot name).  Playlist entries and ``Resolve`` requests are checked by
  address only: their domain was vouched for by the playlist the user linked.
* A single track whose site gave no duration (a bare file, an ``<audio>`` element) is probed
  with ffmpeg (``musicbot.extract.probe``) so the queue shows it and the length limit holds.
  Where ffmpeg cannot read it, or only guesses it from a host without byte ranges
  (``Track.seekable`` is False), the stream is read once to measure it.
* Playlists are extracted flat (one request for the whole list, capped at
  ``[limits] max_playlist_import``) and delivered in batches; each entry is resolved just before
  it plays.  A stream URL refused with 403 is re-extracted by ``resolve(track, force=True)``
  (``ExtractorHandle.refresh``).
* A failure the operator can do something about (bot check, PO token, cookies, proxy, an old
  yt-dlp; ``OPERATOR_FIX``) is logged once per reason and hour as ``extraction_blocked`` with
  the fix; every failure is logged as ``extract_failed`` with its ``reason``.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import assert_never

import attrs
import structlog
import trio

from actors.cache.actor import CacheHandle
from actors.extractor import spotify
from actors.extractor.handle import NAME, ExtractorHandle
from actors.extractor.messages import (
    Extract,
    ExtractorMsg,
    PlaylistResult,
    Related,
    Resolve,
    Search,
    SearchResult,
    SingleResult,
)
from actors.extractor.pool import Pool, open_pool
from actors.extractor.related import related
from actors.extractor.work import (
    CACHE_DOWN,
    Result,
    State,
    Waiter,
    cached,
    extract_url,
    extractor_ref,
    search,
    store,
)
from actors.kit.mailbox import open_mailbox, reply
from musicbot.config import Config
from musicbot.extract.errors import OPERATOR_FIX, ExtractionError, Reason
from musicbot.extract.info import (
    Extraction,
    SearchInfo,
    TrackInfo,
)
from musicbot.extract.options import search_query
from musicbot.extract.probe import ffmpeg_path
from musicbot.models.track import Track
from musicbot.safety import Refusal, check_url, looks_like_url, sanitize_query
from musicbot.spotify import SpotifyClient

log = structlog.get_logger(__name__)

# The operator is told the fix for a kind of failure at most this often (seconds).
WARN_EVERY = 3600.0


async def _fly(st: State, key: str, work: Callable[[], Awaitable[Extraction]], read: bool) -> None:
    """One flight: produce the result for ``key`` once and answer everyone waiting on it."""
    started = trio.current_time()
    result: Result | None = None
    with trio.move_on_after(st.config.extractor.timeout):
        try:
            result = await cached(st, key, read=read)
            if result is None:
                result = await work()
                await store(st, key, result)
                log.info("extracted", key=key, kind=type(result).__name__)
        except (ExtractionError, Refusal) as exc:
            result = exc
            await store(st, key, exc)
    if result is None:
        result = ExtractionError(
            Reason.TIMEOUT, f"no answer within {st.config.extractor.timeout:g} s"
        )
    if isinstance(result, ExtractionError | Refusal):
        log.warning(
            "extract_failed",
            key=key,
            reason=result.reason if isinstance(result, Refusal) else result.reason.value,
            detail=str(result),
            elapsed=round(trio.current_time() - started, 3),
        )
        if isinstance(result, ExtractionError):
            tell_operator(st, result)
    waiters = st.flights.pop(key, [])
    for waiter in waiters:
        await _deliver(st, waiter, result)


def tell_operator(st: State, error: ExtractionError) -> None:
    """One ``extraction_blocked`` warning with the fix, per reason and ``WARN_EVERY``."""
    fix = OPERATOR_FIX.get(error.reason)
    if fix is None:
        return
    now = trio.current_time()
    last = st.warned.get(error.reason.value)
    if last is not None and now - last < WARN_EVERY:
        return
    st.warned[error.reason.value] = now
    log.warning("extraction_blocked", reason=error.reason.value, fix=fix, detail=error.detail)


# ------------------------------------------------------------------ answers


def _too_long(st: State, track: Track) -> ExtractionError | None:
    limit = st.config.limits.max_track_seconds
    if track.duration is not None and not track.is_live and track.duration > limit:
        return ExtractionError(Reason.TOO_LONG, f"{track.duration:g} s > {limit} s")
    return None


async def _feed(
    st: State, send: trio.MemorySendChannel[tuple[Track, ...]], tracks: tuple[Track, ...]
) -> None:
    size = st.config.extractor.playlist_batch_size
    async with send:
        for start in range(0, len(tracks), size):
            if start:
                await trio.sleep(st.config.extractor.playlist_batch_pause)
            with trio.move_on_after(st.config.extractor.timeout) as scope:
                try:
                    await send.send(tracks[start : start + size])
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
            if scope.cancelled_caught:
                log.warning("playlist_reader_stalled", delivered=start, total=len(tracks))
                return


def _requested(tracks: tuple[Track, ...], who: int | None) -> tuple[Track, ...]:
    return tuple(attrs.evolve(t, requester_id=who) for t in tracks)


async def _deliver(st: State, waiter: Waiter, result: Result) -> None:
    """Answer one waiter from the flight's shared result."""
    match waiter:
        case Resolve(track=original, reply=r):
            if isinstance(result, ExtractionError | Refusal):
                reply(r, result)
            elif not isinstance(result, TrackInfo):
                reply(r, ExtractionError(Reason.UNSUPPORTED, "not a single track"))
            else:
                fresh = result.track
                # Playlist and search metadata is usually richer than a bare file's.
                resolved = attrs.evolve(
                    fresh.in_place_of(original),
                    title=original.title or fresh.title,
                    duration=original.duration or fresh.duration,
                    thumbnail=fresh.thumbnail or original.thumbnail,
                    uploader=fresh.uploader or original.uploader,
                )
                reply(r, _too_long(st, resolved) or resolved)
        case Related(reply=rr):
            if isinstance(result, ExtractionError | Refusal):
                reply(rr, result)
            elif not isinstance(result, SearchInfo):
                reply(rr, ExtractionError(Reason.UNKNOWN, "not a list of related tracks"))
            else:
                reply(rr, SearchResult(query=result.query, tracks=_requested(result.tracks, None)))
        case Search(requester_id=who, reply=rs):
            if isinstance(result, ExtractionError | Refusal):
                reply(rs, result)
            elif not isinstance(result, SearchInfo):
                reply(rs, ExtractionError(Reason.UNKNOWN, "not a search result"))
            else:
                reply(rs, SearchResult(query=result.query, tracks=_requested(result.tracks, who)))
        case Extract(requester_id=who, reply=re):
            if isinstance(result, ExtractionError | Refusal):
                reply(re, result)
            elif isinstance(result, SearchInfo):
                reply(re, SearchResult(query=result.query, tracks=_requested(result.tracks, who)))
            elif isinstance(result, TrackInfo):
                track = attrs.evolve(result.track, requester_id=who)
                failed = _too_long(st, track)
                reply(re, failed or SingleResult(track=track))
                if failed is None and st.cache is not None:
                    with contextlib.suppress(*CACHE_DOWN):
                        await st.cache.note(track.title, track.webpage_url)
            else:
                send, receive = trio.open_memory_channel[tuple[Track, ...]](1)
                answer = PlaylistResult(
                    title=result.title,
                    webpage_url=result.webpage_url,
                    total=len(result.tracks),
                    truncated=result.truncated,
                    batches=receive,
                )
                if reply(re, answer):
                    st.nursery.start_soon(_feed, st, send, _requested(result.tracks, who))
                else:
                    send.close()
                    receive.close()
        case _:
            assert_never(waiter)


# ------------------------------------------------------------------ the actor


def _plan(st: State, msg: Waiter) -> tuple[str, Callable[[], Awaitable[Extraction]], bool]:
    """(flight key, the work, whether the cache may answer) for a request; may raise Refusal.

    The synchronous link checks run here, before the cache or a flight in progress can answer:
    a typed link must pass the allow-list even when a playlist entry at the same address (which
    is checked by address only) was resolved a moment ago.
    """
    cfg = st.config.extractor
    spotify_link = spotify.plan(st, msg)  # apart from links and searches: its own keys
    if spotify_link is not None:
        return spotify_link
    match msg:
        case Resolve(track=track, force=force):
            url = track.webpage_url.strip()
            check_url(url, cfg, check_domain=False)
            work = functools.partial(extract_url, st, url, check_domain=False)
            return ("url!:" if force else "url:") + url, work, not force
        case Extract(query=query) if looks_like_url(query):
            url = query.strip()
            check_url(url, cfg)
            return "url:" + url, functools.partial(extract_url, st, url, check_domain=True), True
        case Related(track=track):
            seed = track.webpage_url.strip()
            return "related:" + seed, functools.partial(related, st, track), True
        case Extract(query=text) | Search(text=text):
            clean = sanitize_query(text)
            return "search:" + search_query(cfg, clean), functools.partial(search, st, clean), True
        case _:
            assert_never(msg)


async def run(
    inbox: trio.MemoryReceiveChannel[ExtractorMsg],
    *,
    config: Config,
    cache: CacheHandle | None = None,
    extra_extractors: Sequence[type] = (),
    wall_clock: Callable[[], float] = time.time,
    egress_proxy: str | None = None,
    task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve extraction requests until the inbox closes; flights in progress are cancelled
    and every worker process is killed.

    ``egress_proxy`` (the egress guard's URL, :mod:`musicbot.egress`) becomes yt-dlp's proxy
    and ffmpeg's ``-http_proxy``, so every connection either tool opens is re-checked.
    ``extra_extractors`` must be importable classes (module level): the workers import them.
    ``task_status.started`` gets the worker pool (its counters are for metrics and tests), once
    its first worker is up.
    """
    if egress_proxy:
        config = attrs.evolve(config, extractor=attrs.evolve(config.extractor, proxy=egress_proxy))
    refs = tuple(extractor_ref(cls) for cls in extra_extractors)
    async with open_pool(config.extractor.worker_processes) as pool, trio.open_nursery() as nursery:
        st = State(
            config=config,
            cache=cache,
            extractor_refs=refs,
            wall_clock=wall_clock,
            nursery=nursery,
            pool=pool,
            limiter=trio.CapacityLimiter(config.extractor.worker_processes),
            ffmpeg=ffmpeg_path(config.audio.ffmpeg),
            http_proxy=egress_proxy or None,
            spotify=SpotifyClient(config.spotify) if config.spotify.configured else None,
        )
        # One worker is started before the actor says it is up: the first /play then does not
        # wait for a Python process to import yt-dlp (a couple of seconds of CPU).
        await pool.prewarm()
        task_status.started(pool)
        async with inbox:
            async for msg in inbox:
                try:
                    key, work, read = _plan(st, msg)
                except Refusal as refusal:
                    log.info("input_refused", reason=refusal.reason, detail=refusal.detail)
                    reply(msg.reply, refusal)
                    continue
                waiters = st.flights.get(key)
                if waiters is not None:
                    waiters.append(msg)
                    log.debug("extract_joined", key=key, waiting=len(waiters))
                    continue
                st.flights[key] = [msg]
                nursery.start_soon(_fly, st, key, work, read)
        nursery.cancel_scope.cancel()


async def start(
    nursery: trio.Nursery,
    *,
    config: Config,
    cache: CacheHandle | None = None,
    extra_extractors: Sequence[type] = (),
    wall_clock: Callable[[], float] = time.time,
    egress_proxy: str | None = None,
) -> ExtractorHandle:
    """Open the extractor's inbox, start it in ``nursery`` and return its handle."""
    mailbox = open_mailbox(NAME)
    pool: Pool = await nursery.start(
        functools.partial(
            run,
            mailbox.receive,
            config=config,
            cache=cache,
            extra_extractors=extra_extractors,
            wall_clock=wall_clock,
            egress_proxy=egress_proxy,
        )
    )
    # The flight's own timeout answers first; the slack covers the limiter queue and the cache.
    return ExtractorHandle(mailbox.send, timeout=config.extractor.timeout + 10.0, pool=pool)
