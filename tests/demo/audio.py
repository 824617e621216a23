"""What a test can tell about heard audio: the notes of a demo melody, window by window."""

from __future__ import annotations

import array
import itertools
import math

from musicbot.demo.tracks import Melody

RATE = 48_000
WINDOW = RATE // 10  # 100 ms: the shortest note lasts 400 ms


def window_pitches(pcm: array.array[int]) -> list[float]:
    """Frequency (zero crossings) of each 100 ms window that is not silence."""
    out = []
    for start in range(0, len(pcm) - WINDOW, WINDOW):
        window = pcm[start : start + WINDOW]
        rms = math.sqrt(sum(x * x for x in window) / len(window))
        if rms < 300:
            continue
        crossings = sum(1 for a, b in itertools.pairwise(window) if (a < 0) != (b < 0))
        out.append(crossings / 2 / (WINDOW / RATE))
    return out


def notes_heard(pitches: list[float], melody: Melody) -> tuple[float, set[float]]:
    """(share of windows on one of the melody's notes, the distinct notes heard)."""
    hits: set[float] = set()
    matched = 0
    for hz in pitches:
        note = min(melody.notes, key=lambda n: abs(n - hz))
        if abs(note - hz) <= note * 0.03:
            matched += 1
            hits.add(note)
    return (matched / len(pitches) if pitches else 0.0), hits
