"""Lyrics from LRCLIB (``[lyrics] api_base``): one search request, and synced-lyrics parsing.

Theory.  LRCLIB answers ``GET {api_base}/search?q=…`` with a JSON list of records carrying
``trackName``, ``artistName``, ``duration`` (seconds), ``instrumental``, ``plainLyrics`` and
``syncedLyrics`` (LRC: lines such as ``[01:02.50] words``).  We ask once per /lyrics, take the
record whose duration is closest to the track's (within ``DURATION_SLACK``), and prefer
synced lyrics, from which the line being sung at a position is found by bisection.

Only the configured host is ever contacted: the URL is ``api_base`` plus a fixed path and an
encoded query, redirects are not followed (a 3xx is an unavailable service, not a new host),
the environment's proxy settings are ignored, and the body is read up to ``MAX_BODY``
bytes within ``[lyrics] timeout``.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any, Final

import attrs
import httpx
import trio

from musicbot.webapi import BodyTooLarge, pinned_client, read_body

MAX_BODY: Final = 1 << 20  # bytes of a search answer
DURATION_SLACK: Final = 10.0  # seconds between the track's length and a record's
_LRC_LINE: Final = re.compile(r"^\[(\d{1,3}):(\d{2}(?:\.\d{1,3})?)\](.*)$")
_NOISE: Final = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]\s*")  # "(Official Video)", "[HD]"


class LyricsUnavailable(Exception):
    """The service could not be asked or gave no usable answer."""


@attrs.frozen(kw_only=True)
class Lyrics:
    title: str
    artist: str
    plain: str
    synced: tuple[tuple[float, str], ...] = ()  # (seconds, line), sorted

    def line_at(self, position: float) -> int | None:
        """Index of the synced line being sung at ``position`` (None before the first)."""
        times = [at for at, _ in self.synced]
        index = bisect.bisect_right(times, position) - 1
        return index if index >= 0 else None


def parse_lrc(text: str) -> tuple[tuple[float, str], ...]:
    """``[mm:ss.xx] words`` lines → sorted (seconds, words); other lines are ignored."""
    out: list[tuple[float, str]] = []
    for raw in text.splitlines():
        m = _LRC_LINE.match(raw.strip())
        if m is not None:
            out.append((int(m.group(1)) * 60 + float(m.group(2)), m.group(3).strip()))
    out.sort(key=lambda item: item[0])
    return tuple(out)


def search_query(title: str, artist: str | None) -> str:
    """What to search for: the title without bracketed noise, and the artist if known."""
    clean = _NOISE.sub(" ", title).strip() or title
    if artist and artist.lower() not in clean.lower():
        clean = f"{artist} {clean}"
    return clean[:200]


def pick(records: Any, duration: float | None) -> Lyrics | None:
    """The best record of a search answer, or None."""
    if not isinstance(records, list):
        raise LyricsUnavailable("not a list")
    best: tuple[float, Lyrics] | None = None
    for record in records[:50]:
        if not isinstance(record, dict) or record.get("instrumental") is True:
            continue
        plain = record.get("plainLyrics")
        synced = record.get("syncedLyrics")
        plain = plain if isinstance(plain, str) else ""
        lines = parse_lrc(synced) if isinstance(synced, str) else ()
        if not plain and not lines:
            continue
        length = record.get("duration")
        off = 0.0
        if duration is not None and isinstance(length, (int, float)):
            off = abs(float(length) - duration)
            if off > DURATION_SLACK:
                continue
        found = Lyrics(
            title=str(record.get("trackName") or ""),
            artist=str(record.get("artistName") or ""),
            plain=plain or "\n".join(words for _, words in lines),
            synced=lines,
        )
        score = off - (0.5 if lines else 0.0)  # synced lyrics win a near tie
        if best is None or score < best[0]:
            best = (score, found)
    return best[1] if best is not None else None


async def find(
    api_base: str, title: str, artist: str | None, duration: float | None, *, timeout: float
) -> Lyrics | None:
    """Search LRCLIB; None when it knows no lyrics.  Raises :class:`LyricsUnavailable`."""
    url = api_base.rstrip("/") + "/search"
    params = {"q": search_query(title, artist)}
    headers = {"User-Agent": "musicbot (lyrics)", "Accept": "application/json"}
    try:
        with trio.fail_after(timeout):
            async with (
                pinned_client() as client,
                client.stream("GET", url, params=params, headers=headers) as response,
            ):
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise LyricsUnavailable(f"status {response.status_code}")
                body = await read_body(response, MAX_BODY)
    except BodyTooLarge:
        raise LyricsUnavailable("answer too large") from None
    except (httpx.HTTPError, trio.TooSlowError) as exc:
        raise LyricsUnavailable(type(exc).__name__) from None
    try:
        records = json.loads(body)
    except ValueError:
        raise LyricsUnavailable("not JSON") from None
    return pick(records, duration)


__all__ = ["Lyrics", "LyricsUnavailable", "find", "parse_lrc", "pick", "search_query"]
