"""LRCLIB answers: LRC parsing, choosing a record, and the search query (pure parts)."""

from __future__ import annotations

import pytest

from actors.guild.fair_queue import fair_position, rounds
from musicbot.lyrics import Lyrics, LyricsUnavailable, parse_lrc, pick, search_query
from musicbot.models.track import Track


def test_parse_lrc_sorts_and_skips_other_lines() -> None:
    text = "[ar: Somebody]\n[00:05.50] two\nnot a line\n[00:01] one\n[1:02.123]three\n"
    assert parse_lrc(text) == ((1.0, "one"), (5.5, "two"), (62.123, "three"))
    found = Lyrics(title="t", artist="a", plain="", synced=parse_lrc(text))
    assert found.line_at(0.5) is None
    assert found.line_at(1.0) == 0
    assert found.line_at(6.0) == 1
    assert found.line_at(999.0) == 2


def test_pick_prefers_fitting_length_then_synced_and_skips_junk() -> None:
    records = [
        "junk",
        {"instrumental": True, "plainLyrics": "la", "duration": 200},
        {"trackName": "Far", "plainLyrics": "far", "duration": 500},
        {"trackName": "Plain", "plainLyrics": "words", "duration": 201},
        {"trackName": "Synced", "syncedLyrics": "[00:01.00] hi", "duration": 201.4},
        {"trackName": "Empty", "plainLyrics": "", "syncedLyrics": None, "duration": 200},
    ]
    best = pick(records, 200.0)
    assert best is not None and best.title == "Synced" and best.plain == "hi"
    assert pick(records[:3], 200.0) is None
    assert pick([], None) is None
    with pytest.raises(LyricsUnavailable):
        pick({"not": "a list"}, None)


def test_search_query_drops_bracketed_noise() -> None:
    assert search_query("Song (Official Video) [HD]", None) == "Song"
    assert search_query("Artist - Song", "Artist") == "Artist - Song"
    assert search_query("Song", "Band") == "Band Song"
    assert len(search_query("x" * 1000, None)) == 200


def _t(requester: int, n: int) -> Track:
    return Track(title=f"{requester}-{n}", webpage_url="u", requester_id=requester)


def test_fair_rounds_and_positions() -> None:
    current = _t(1, 0)
    upcoming = [_t(1, 1), _t(1, 2), _t(2, 1)]
    assert rounds(current, upcoming) == [1, 2, 0]
    # A newcomer goes before the first entry of a later round than its own.
    assert fair_position(current, upcoming, 3) == 1
    assert fair_position(current, upcoming, 2) == 2
    assert fair_position(current, upcoming, 1) == 4
    assert fair_position(None, [], 1) == 1
