"""Tracks related to a track, for autoplay (``ExtractorHandle.related``).

Theory.  Where the related tracks come from depends on the track's site:

* A YouTube video (``youtube.com/watch?v=ID``, ``youtu.be/ID``, ``/shorts/ID``, YouTube Music)
  has YouTube's own mix of it: the playlist ``watch?v=ID&list=RDID``, which yt-dlp extracts
  flat (one request for the whole list, no request per entry).  The mix begins with the video
  itself; that entry is dropped.
* Any other track goes to ``[extractor] related_provider``, a URL template with ``{url}`` (the
  track's page, URL-encoded) whose page lists related tracks as a playlist yt-dlp can read
  (an RSS feed, a playlist page): the emulator's media server answers ``/related?url=…`` with
  the other tones.  Without one there is nothing related (``NO_RESULTS``).

The list is fetched like a search (flat, playlists allowed) and the same checks hold: the
provider's address is checked (not its domain: the operator chose it), every entry must pass
the allow-list, and the seed itself is left out (same page, or same YouTube video).  Which of
the candidates plays is the guild's choice (``actors.guild.autoplay``): it knows the history.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

from actors.extractor.work import State, run_ytdlp
from musicbot.config import ExtractorConfig
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import Extraction, PlaylistInfo, SearchInfo
from musicbot.extract.options import Mode
from musicbot.models.track import Track
from musicbot.safety import Refusal, check_url, guard_url

_VIDEO_ID: Final = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS: Final = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
)


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube video link, or None for anything else."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    found: str | None = None
    if host in _YOUTUBE_HOSTS:
        if parts.path == "/watch":
            values = urllib.parse.parse_qs(parts.query).get("v") or [""]
            found = values[0]
        elif parts.path.startswith(("/shorts/", "/live/", "/embed/")):
            found = parts.path.split("/")[2]
    elif host in ("youtu.be", "www.youtu.be"):
        found = parts.path.lstrip("/").split("/")[0]
    return found if found is not None and _VIDEO_ID.fullmatch(found) else None


def related_url(cfg: ExtractorConfig, track: Track) -> str | None:
    """Where the tracks related to ``track`` are listed: YouTube's mix of a YouTube video,
    else the ``related_provider`` template filled in; None when there is no such place.  A
    mirrored track (Spotify) is asked about by the page its audio comes from, which is what
    YouTube or the provider knows."""
    page = track.mirror_url or track.webpage_url
    video = youtube_id(page)
    if video is not None:
        return f"https://www.youtube.com/watch?v={video}&list=RD{video}"
    if not cfg.related_provider:
        return None
    return cfg.related_provider.replace("{url}", urllib.parse.quote(page, safe=""))


def same_track(a: str, b: str) -> bool:
    """Whether two page URLs name the same track (a YouTube video under any of its links)."""
    if a.strip() == b.strip():
        return True
    video = youtube_id(a)
    return video is not None and video == youtube_id(b)


async def related(st: State, track: Track) -> Extraction:
    """The tracks related to ``track`` (flat, unresolved, the seed left out), as a
    ``SearchInfo`` named after the seed's page; ``NO_RESULTS`` when there are none."""
    cfg = st.config.extractor
    url = related_url(cfg, track)
    if url is None:
        raise ExtractionError(Reason.NO_RESULTS, "no related-tracks provider for this site")
    await guard_url(url, cfg, check_domain=False)
    result = await run_ytdlp(st, url, Mode.SEARCH)
    found = result.tracks if isinstance(result, SearchInfo | PlaylistInfo) else ()
    tracks: list[Track] = []
    for candidate in found:
        if any(same_track(candidate.webpage_url, page) for page in track.pages):
            continue  # the seed itself (or its mirror)
        try:
            check_url(candidate.webpage_url, cfg)
        except Refusal:
            continue
        tracks.append(candidate)
    if not tracks:
        raise ExtractionError(Reason.NO_RESULTS, f"nothing related to {track.webpage_url!r}")
    return SearchInfo(query=track.webpage_url, tracks=tuple(tracks))


__all__ = ["related", "related_url", "same_track", "youtube_id"]
