"""Track: a fresh extraction standing in for a queue entry keeps what makes it the entry."""

from __future__ import annotations

from musicbot.models.track import Track


def test_a_fresh_track_in_place_of_an_entry_keeps_the_entry() -> None:
    entry = Track(title="Old", webpage_url="https://x.example/a", autoplay=True)
    entry = entry.with_requester(42, "entry-7")
    fresh = Track(title="New", webpage_url="https://x.example/a", stream_url="https://s/a")
    got = fresh.in_place_of(entry)
    assert (got.requester_id, got.entry_id, got.autoplay) == (42, "entry-7", True)
    assert (got.title, got.stream_url) == ("New", "https://s/a")  # the rest is the fresh one's
