"""The media server's stand-in for LRCLIB (``GET /api/search?q=…``), so ``/lyrics`` works in
the offline demo (``make run`` without a token) on the generated tones.

Every tone has synced lyrics: one line a second, naming the tone and the second, so the line
``/lyrics`` shows in bold moves with ``/seek`` and pause like a song's.  The media server
matches a search's words against the tone titles (accents and case ignored, as its own search
does; the artist's name in a query is left out) and answers with :func:`record`, LRCLIB's
shape: ``trackName``, ``artistName``, ``duration``, ``plainLyrics``, ``syncedLyrics``.
"""

from __future__ import annotations

import math
from typing import Any, Final

ARTIST: Final = "Demo tones"


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"[{int(minutes):02d}:{rest:05.2f}]"


def lines_of(title: str, duration: float) -> list[str]:
    """One line per second of the tone."""
    return [f"{title}, second {i + 1}" for i in range(max(1, math.ceil(duration)))]


def record(title: str, duration: float) -> dict[str, Any]:
    """The LRCLIB record of one tone."""
    lines = lines_of(title, duration)
    return {
        "trackName": title,
        "artistName": ARTIST,
        "duration": duration,
        "instrumental": False,
        "plainLyrics": "\n".join(lines),
        "syncedLyrics": "\n".join(f"{_stamp(i)} {line}" for i, line in enumerate(lines)),
    }


__all__ = ["ARTIST", "record"]
