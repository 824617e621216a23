"""Spotify links in the extractor: listing them, and mirroring a track before it plays.

Theory.  A Spotify link is metadata (:mod:`musicbot.spotify`): the Web API calls are I/O, so
they run in the flight task of this actor (trio + httpx), never in a worker process; what is
CPU-heavy, the mirror search and the resolution of the found candidate, goes through the
worker path like any search and link (``work.search``, ``work.extract_url``).

Flight and cache keys live apart from those of ordinary links and searches: ``spotify:track:<id>``
(``album``, ``playlist``) for what a link lists, ``spotify:mirror:<id>`` for the playable mirror
of a track (``spotify!:mirror:<id>`` when forced after a refused stream URL; it refreshes the
same cache entry).  The mirror keeps the Spotify link as its ``webpage_url``, so a queue entry,
a saved playlist and a session keep naming the Spotify track, and the next resolution (an
expired stream URL, a restart) mirrors it again.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import attrs
import structlog

from actors.extractor.messages import Extract, Resolve
from actors.extractor.work import State, Waiter, extract_url, search
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import Extraction, PlaylistInfo, SearchInfo, TrackInfo
from musicbot.safety import sanitize_query
from musicbot.spotify import (
    NoMatch,
    SpotifyClient,
    SpotifyRef,
    SpotifyTrack,
    closest,
    mirror_queries,
    parse_link,
    provider_name,
)

log = structlog.get_logger("actors.extractor")

Plan = tuple[str, Callable[[], Awaitable[Extraction]], bool]


def plan(st: State, msg: Waiter) -> Plan | None:
    """(flight key, work, whether the cache may answer) for a request about a Spotify link,
    or None when it is about something else."""
    match msg:
        case Resolve(track=track, force=force):
            ref = parse_link(track.webpage_url)
            if ref is None or ref.kind != "track":
                return None
            key = ("spotify!:" if force else "spotify:") + f"mirror:{ref.id}"
            return key, functools.partial(mirror, st, ref), not force
        case Extract(query=query):
            ref = parse_link(query)
            if ref is None:
                return None
            return f"spotify:{ref.kind}:{ref.id}", functools.partial(listing, st, ref), True
        case _:
            return None


def _client(st: State) -> SpotifyClient:
    if st.spotify is None:
        raise ExtractionError(Reason.SPOTIFY_UNCONFIGURED, "[spotify] keys not set")
    return st.spotify


async def listing(st: State, ref: SpotifyRef) -> Extraction:
    """What a link names: one unresolved track, or an album's or a playlist's (capped at
    ``[limits] max_playlist_import``)."""
    client = _client(st)
    if ref.kind == "track":
        found = await client.track(ref.id)
        return TrackInfo(track=found.to_track())
    listed = await client.listing(ref, cap=st.config.limits.max_playlist_import)
    return PlaylistInfo(
        title=listed.title,
        webpage_url=listed.url,
        tracks=tuple(t.to_track() for t in listed.tracks),
        truncated=listed.truncated,
    )


async def _described(client: SpotifyClient, ref: SpotifyRef) -> SpotifyTrack:
    """The track as a listing described it, with its ISRC (asked for when the listing had
    none: album pages don't carry it).  A known track survives Spotify being down."""
    known = client.known.get(ref.id)
    if known is not None and known.isrc is not None:
        return known
    try:
        return await client.track(ref.id)
    except ExtractionError:
        if known is None:
            raise
        return known


async def mirror(st: State, ref: SpotifyRef) -> Extraction:
    """A playable copy of a Spotify track: the best-fitting search result, resolved, under
    the Spotify link.  Raises :class:`~musicbot.spotify.NoMatch` when nothing fits."""
    wanted = await _described(_client(st), ref)
    narrower_found = False  # "artist title" had results (none fitted)
    for query in mirror_queries(wanted):
        # The title alone is a broad search: only when "artist title" found nothing at all.
        broad = bool(wanted.artists) and query == wanted.name[:200]
        if broad and narrower_found:
            break
        try:
            found = await search(st, sanitize_query(query))
        except ExtractionError as exc:
            if exc.reason is not Reason.NO_RESULTS:
                raise
            continue
        assert isinstance(found, SearchInfo)
        pick = closest(found.tracks, wanted.duration)
        log.debug("spotify_mirror_search", id=ref.id, query=query, found=len(found.tracks))
        if pick is not None:
            result = await extract_url(st, pick.webpage_url, check_domain=False)
            if isinstance(result, TrackInfo):
                log.info("spotify_mirrored", id=ref.id, mirror=pick.webpage_url)
                return TrackInfo(
                    track=attrs.evolve(
                        result.track,
                        webpage_url=ref.url,
                        mirror_url=result.track.webpage_url,
                        uploader=", ".join(wanted.artists) or result.track.uploader,
                        thumbnail=wanted.image or result.track.thumbnail,
                    )
                )
        narrower_found = narrower_found or not query.startswith('"')
    where = provider_name(st.config.extractor)
    raise NoMatch(Reason.NO_MATCH, f"no search result fits {ref.url}", where=where)
