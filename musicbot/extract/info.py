"""From yt-dlp's info dicts to :class:`~musicbot.models.track.Track` s, and the shapes an
extraction produces."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import attrs

from musicbot.extract.errors import ExtractionError, Reason
from musicbot.models.track import Track

# Googlevideo-style signed URLs carry their expiry as a UNIX time: "?expire=1700000000" or,
# in manifest URLs, "/expire/1700000000/".
_EXPIRE_PATH = re.compile(r"/expire/(\d{9,11})(?:/|$)")
# acodec spellings yt-dlp uses → the short codec names the player understands.
_CODECS: Final[dict[str, str]] = {"mp4a": "aac", "aac": "aac", "opus": "opus", "mp3": "mp3"}
_CODECS_BY_EXT: Final[dict[str, str]] = {"mp3": "mp3", "opus": "opus", "m4a": "aac"}


@attrs.frozen(kw_only=True)
class TrackInfo:
    """A single resolved track."""

    track: Track


@attrs.frozen(kw_only=True)
class PlaylistInfo:
    """A flat playlist: entries carry titles and page URLs but no stream URL yet."""

    title: str
    webpage_url: str
    tracks: tuple[Track, ...]
    truncated: bool = False


@attrs.frozen(kw_only=True)
class SearchInfo:
    """The results of a search for ``query``, flat like a playlist's entries."""

    query: str
    tracks: tuple[Track, ...]


#: What one extraction produces: a single track, a flat playlist or search results.
Extraction = TrackInfo | PlaylistInfo | SearchInfo


def parse_expire(url: str) -> float | None:
    """The expiry a signed stream URL carries, as a UNIX time, if it carries one."""
    parts = urllib.parse.urlsplit(url)
    values = urllib.parse.parse_qs(parts.query).get("expire")
    if values and values[0].isdigit():
        return float(values[0])
    m = _EXPIRE_PATH.search(parts.path)
    return float(m.group(1)) if m else None


def codec_name(acodec: object, ext: object) -> str | None:
    if isinstance(acodec, str) and acodec and acodec != "none":
        base = acodec.split(".", 1)[0].lower()
        return _CODECS.get(base, base)
    if isinstance(ext, str):
        return _CODECS_BY_EXT.get(ext.lower())
    return None


def _str(info: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        v = info.get(key)
        if isinstance(v, str) and v:
            return v
    return None


def _duration(info: Mapping[str, Any]) -> float | None:
    v = info.get("duration")
    return float(v) if isinstance(v, int | float) and v > 0 else None


def _thumbnail(info: Mapping[str, Any]) -> str | None:
    thumb = _str(info, "thumbnail")
    if thumb:
        return thumb
    thumbs = info.get("thumbnails")
    if isinstance(thumbs, list) and thumbs and isinstance(thumbs[-1], dict):
        return _str(thumbs[-1], "url")
    return None


def _title(info: Mapping[str, Any], fallback: str) -> str:
    title = _str(info, "title", "fulltitle", "track") or fallback
    if info.get("extractor") == "html5" and title.endswith(" (1)"):
        # The html5 embed extractor numbers the media elements of a page even when there is one.
        title = title[: -len(" (1)")]
    return title


def track_from_info(
    info: Mapping[str, Any], *, now: float, stream_ttl: float, requested_url: str = ""
) -> Track:
    """A resolved Track from a fully extracted (not flat) info dict.  ``now`` is wall time."""
    stream_url = _str(info, "url")
    fmt: Mapping[str, Any] = info
    if not stream_url:
        # Merged formats: take the audio one.
        for f in info.get("requested_formats") or ():
            if isinstance(f, dict) and f.get("acodec") not in (None, "none") and f.get("url"):
                fmt, stream_url = f, f["url"]
                break
    if not stream_url:
        raise ExtractionError(Reason.UNSUPPORTED, "no playable format")
    webpage_url = _str(info, "webpage_url", "original_url") or requested_url or stream_url
    headers = fmt.get("http_headers") or info.get("http_headers") or {}
    return Track(
        title=_title(info, webpage_url),
        webpage_url=webpage_url,
        stream_url=stream_url,
        http_headers={str(k): str(v) for k, v in headers.items()},
        duration=_duration(info),
        is_live=bool(info.get("is_live")),
        thumbnail=_thumbnail(info),
        uploader=_str(info, "uploader", "channel", "artist", "creator"),
        codec=codec_name(fmt.get("acodec"), fmt.get("audio_ext") or fmt.get("ext")),
        container=_str(fmt, "container", "ext"),
        stream_expires_at=parse_expire(stream_url) or now + stream_ttl,
    )


def entry_url(entry: Mapping[str, Any]) -> str | None:
    """The page URL of a flat playlist or search entry (yt-dlp may smuggle data into it)."""
    from yt_dlp.utils import unsmuggle_url  # only the worker processes import yt-dlp

    url = _str(entry, "webpage_url", "url", "original_url")
    if url is None:
        return None
    clean, _data = unsmuggle_url(url, {})
    return str(clean)


def track_from_entry(entry: Mapping[str, Any]) -> Track | None:
    """An unresolved Track from a flat entry; None for entries without a usable URL."""
    url = entry_url(entry)
    if url is None or not url.startswith(("http://", "https://")):
        return None
    return Track(
        title=_title(entry, url),
        webpage_url=url,
        duration=_duration(entry),
        is_live=bool(entry.get("is_live") or entry.get("live_status") == "is_live"),
        thumbnail=_thumbnail(entry),
        uploader=_str(entry, "uploader", "channel", "artist", "creator"),
    )


def is_playlist(info: Mapping[str, Any]) -> bool:
    return info.get("_type") in ("playlist", "multi_video") or "entries" in info


def playlist_from_info(info: Mapping[str, Any], *, cap: int, fallback_url: str) -> PlaylistInfo:
    tracks: list[Track] = []
    for entry in info.get("entries") or ():
        if isinstance(entry, dict):
            track = track_from_entry(entry)
            if track is not None:
                tracks.append(track)
        if len(tracks) >= cap:
            break
    count = info.get("playlist_count")
    truncated = len(tracks) >= cap and (not isinstance(count, int) or count > cap)
    return PlaylistInfo(
        title=_title(info, fallback_url),
        webpage_url=_str(info, "webpage_url") or fallback_url,
        tracks=tuple(tracks),
        truncated=truncated,
    )


# ------------------------------------------------------------------ across a process boundary


def to_wire(value: Extraction) -> dict[str, Any]:
    """An extraction as JSON-able plain data (worker process → extractor actor)."""
    if isinstance(value, TrackInfo):
        return {"type": "track", "track": attrs.asdict(value.track)}
    if isinstance(value, PlaylistInfo):
        return {
            "type": "playlist",
            "title": value.title,
            "webpage_url": value.webpage_url,
            "truncated": value.truncated,
            "tracks": [attrs.asdict(t) for t in value.tracks],
        }
    return {
        "type": "search",
        "query": value.query,
        "tracks": [attrs.asdict(t) for t in value.tracks],
    }


def _track(data: Any) -> Track:
    if not isinstance(data, dict):
        raise ExtractionError(Reason.UNKNOWN, "malformed track from the worker")
    names = {f.name for f in attrs.fields(Track)}
    try:
        track = Track(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise ExtractionError(Reason.UNKNOWN, f"malformed track from the worker: {exc}") from None
    if not isinstance(track.title, str) or not isinstance(track.webpage_url, str):
        raise ExtractionError(Reason.UNKNOWN, "malformed track from the worker")
    return attrs.evolve(track, http_headers={str(k): str(v) for k, v in track.http_headers.items()})


def from_wire(data: Mapping[str, Any]) -> Extraction:
    """The inverse of :func:`to_wire`; raises ExtractionError on anything malformed."""
    kind = data.get("type")
    tracks = data.get("tracks")
    if kind == "track":
        return TrackInfo(track=_track(data.get("track")))
    if not isinstance(tracks, list):
        raise ExtractionError(Reason.UNKNOWN, f"malformed {kind!r} from the worker")
    if kind == "playlist":
        return PlaylistInfo(
            title=str(data.get("title") or ""),
            webpage_url=str(data.get("webpage_url") or ""),
            truncated=bool(data.get("truncated")),
            tracks=tuple(_track(t) for t in tracks),
        )
    if kind == "search":
        return SearchInfo(
            query=str(data.get("query") or ""), tracks=tuple(_track(t) for t in tracks)
        )
    raise ExtractionError(Reason.UNKNOWN, f"unknown answer {kind!r} from the worker")
