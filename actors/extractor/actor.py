"""The extractor actor: turns what a user typed into playable tracks.

Theory.
* The loop never blocks.  Each request joins or starts a *flight*: a task in the actor's own
  nursery that does the slow work (cache lookup, DNS check, yt-dlp in a worker thread under a
  ``CapacityLimiter`` of ``[extractor] workers``) within ``[extractor] timeout`` and then
  answers every request waiting on it through their reply channels.
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
* Playlists are extracted flat (one request for the whole list, capped at
  ``[limits] max_playlist_import``) and delivered in batches; each entry is resolved just before
  it plays.  A stream URL refused with 403 is re-extracted by ``resolve(track, force=True)``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, assert_never

import attrs
import structlog
import trio

from actors.cache.actor import CacheHandle
from actors.extractor.messages import (
    Extract,
    ExtractorMsg,
    ExtractOutcome,
    Failure,
    PlaylistResult,
    Resolve,
    Search,
    SearchResult,
    SingleResult,
)
from actors.kit.mailbox import ask, open_mailbox, reply
from musicbot.config import Config
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
from musicbot.extract.probe import ffmpeg_path, probe_duration
from musicbot.extract.ytdlp import extract_info
from musicbot.models.track import Track
from musicbot.safety import Refusal, check_url, guard_url, looks_like_url, sanitize_query

log = structlog.get_logger(__name__)

NAME: Final = "extractor"
# A cached stream URL is used only if it stays valid this long: enough to start playing.
STREAM_MARGIN: Final = 60.0
# ffmpeg asked for the length of a stream the site gave none for; short, it only reads a header.
PROBE_TIMEOUT: Final = 10.0

Result = Extraction | Failure
Waiter = Extract | Resolve | Search


@attrs.define(eq=False)
class _State:
    """Owned by the actor and its flight tasks (one trio thread)."""

    config: Config
    cache: CacheHandle | None
    extra_extractors: Sequence[type]
    wall_clock: Callable[[], float]
    nursery: trio.Nursery
    limiter: trio.CapacityLimiter
    ffmpeg: str
    flights: dict[str, list[Waiter]] = attrs.field(factory=dict)
    extractions: int = 0  # yt-dlp calls made (a test and a metric read it)


# ------------------------------------------------------------------ the slow work


def _fresh(value: Extraction, now: float) -> bool:
    if isinstance(value, TrackInfo):
        expires = value.track.stream_expires_at
        return expires is None or expires - now > STREAM_MARGIN
    return True


async def _run_ytdlp(st: _State, query: str, mode: Mode) -> object:
    opts = build_options(
        st.config.extractor,
        mode=mode,
        playlist_cap=st.config.limits.max_playlist_import,
        logger=YtdlLogger(query=query[:200]),
    )
    st.extractions += 1
    job = functools.partial(extract_info, query, opts, st.extra_extractors)
    return await trio.to_thread.run_sync(job, limiter=st.limiter, abandon_on_cancel=True)


async def _cached(st: _State, key: str, *, read: bool) -> Result | None:
    if st.cache is None or not read:
        return None
    found = await st.cache.get(key)
    if found is None or isinstance(found, ExtractionError):
        return found
    return found if _fresh(found, st.wall_clock()) else None


async def _store(st: _State, key: str, result: Result) -> None:
    if st.cache is None:
        return
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


async def _extract_url(st: _State, url: str, *, check_domain: bool) -> Extraction:
    await guard_url(url, st.config.extractor, check_domain=check_domain)
    info = await _run_ytdlp(st, url, Mode.URL)
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
    if track.duration is None and not track.is_live:
        async with st.limiter:
            seconds = await probe_duration(
                track.stream_url, track.http_headers, ffmpeg=st.ffmpeg, timeout=PROBE_TIMEOUT
            )
        track = attrs.evolve(track, duration=seconds)
    return TrackInfo(track=track)


async def _search(st: _State, text: str) -> Extraction:
    info = await _run_ytdlp(st, search_query(st.config.extractor, text), Mode.SEARCH)
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


async def _fly(st: _State, key: str, work: Callable[[], Awaitable[Extraction]], read: bool) -> None:
    """One flight: produce the result for ``key`` once and answer everyone waiting on it."""
    started = trio.current_time()
    result: Result | None = None
    with trio.move_on_after(st.config.extractor.timeout):
        try:
            result = await _cached(st, key, read=read)
            if result is None:
                result = await work()
                await _store(st, key, result)
                log.info("extracted", key=key, kind=type(result).__name__)
        except (ExtractionError, Refusal) as exc:
            result = exc
            await _store(st, key, exc)
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
    waiters = st.flights.pop(key, [])
    for waiter in waiters:
        await _deliver(st, waiter, result)


# ------------------------------------------------------------------ answers


def _too_long(st: _State, track: Track) -> ExtractionError | None:
    limit = st.config.limits.max_track_seconds
    if track.duration is not None and not track.is_live and track.duration > limit:
        return ExtractionError(Reason.TOO_LONG, f"{track.duration:g} s > {limit} s")
    return None


async def _feed(
    st: _State, send: trio.MemorySendChannel[tuple[Track, ...]], tracks: tuple[Track, ...]
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


async def _deliver(st: _State, waiter: Waiter, result: Result) -> None:
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
                    fresh,
                    title=original.title or fresh.title,
                    duration=original.duration or fresh.duration,
                    thumbnail=fresh.thumbnail or original.thumbnail,
                    uploader=fresh.uploader or original.uploader,
                    requester_id=original.requester_id,
                    entry_id=original.entry_id,
                )
                reply(r, _too_long(st, resolved) or resolved)
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


def _plan(st: _State, msg: Waiter) -> tuple[str, Callable[[], Awaitable[Extraction]], bool]:
    """(flight key, the work, whether the cache may answer) for a request; may raise Refusal."""
    cfg = st.config.extractor
    match msg:
        case Resolve(track=track, force=force):
            url = track.webpage_url.strip()
            work = functools.partial(_extract_url, st, url, check_domain=False)
            return ("url!:" if force else "url:") + url, work, not force
        case Extract(query=query) if looks_like_url(query):
            url = query.strip()
            return "url:" + url, functools.partial(_extract_url, st, url, check_domain=True), True
        case Extract(query=text) | Search(text=text):
            clean = sanitize_query(text)
            return "search:" + search_query(cfg, clean), functools.partial(_search, st, clean), True
        case _:
            assert_never(msg)


async def run(
    inbox: trio.MemoryReceiveChannel[ExtractorMsg],
    *,
    config: Config,
    cache: CacheHandle | None = None,
    extra_extractors: Sequence[type] = (),
    wall_clock: Callable[[], float] = time.time,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve extraction requests until the inbox closes; flights in progress are cancelled."""
    async with trio.open_nursery() as nursery:
        st = _State(
            config=config,
            cache=cache,
            extra_extractors=tuple(extra_extractors),
            wall_clock=wall_clock,
            nursery=nursery,
            limiter=trio.CapacityLimiter(config.extractor.workers),
            ffmpeg=ffmpeg_path(config.audio.ffmpeg),
        )
        task_status.started()
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


@attrs.frozen
class ExtractorHandle:
    """How other actors ask for tracks.  Every method raises ``ExtractionError`` (with a
    ``reason``) or ``Refusal`` (unsafe or empty input) on failure, ``ActorDeadError`` /
    ``ActorTimeoutError`` when the actor is gone or stuck."""

    inbox: trio.MemorySendChannel[ExtractorMsg]
    timeout: float  # [extractor] timeout plus slack for the queue and the cache

    async def extract(self, query: str, requester_id: int | None = None) -> ExtractOutcome:
        """A link to a track or a playlist, or search words (then a ``SearchResult``)."""
        answer: ExtractOutcome | Failure = await ask(
            self.inbox,
            lambda r: Extract(query=query, requester_id=requester_id, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer

    async def resolve(self, track: Track, *, force: bool = False) -> Track:
        """``track`` with a fresh stream URL; ``force`` after the old one was refused (403)."""
        answer: Track | Failure = await ask(
            self.inbox,
            lambda r: Resolve(track=track, force=force, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer

    async def search(self, text: str, requester_id: int | None = None) -> SearchResult:
        answer: SearchResult | Failure = await ask(
            self.inbox,
            lambda r: Search(text=text, requester_id=requester_id, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer


async def start(
    nursery: trio.Nursery,
    *,
    config: Config,
    cache: CacheHandle | None = None,
    extra_extractors: Sequence[type] = (),
    wall_clock: Callable[[], float] = time.time,
) -> ExtractorHandle:
    """Open the extractor's inbox, start it in ``nursery`` and return its handle."""
    mailbox = open_mailbox(NAME)
    await nursery.start(
        functools.partial(
            run,
            mailbox.receive,
            config=config,
            cache=cache,
            extra_extractors=extra_extractors,
            wall_clock=wall_clock,
        )
    )
    # The flight's own timeout answers first; the slack covers the limiter queue and the cache.
    return ExtractorHandle(mailbox.send, timeout=config.extractor.timeout + 10.0)
