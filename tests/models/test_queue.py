"""Example tests of every queue operation and of the documented behaviour at the ends."""

from __future__ import annotations

import json
import random

import pytest

from musicbot.models.queue import (
    HISTORY_LIMIT,
    Queue,
    QueueFull,
    QueuePositionError,
    RepeatMode,
)
from tests.models.helpers import song, titles


def playing(*names: str, repeat: RepeatMode = RepeatMode.OFF) -> Queue:
    """A queue whose first name is current and the rest upcoming."""
    queue = Queue(repeat=repeat)
    for name in names:
        queue.add(song(name))
    queue.advance()
    return queue


def test_adding_to_an_idle_queue_then_starting() -> None:
    queue = Queue()
    assert queue.current is None
    assert queue.add(song("a")) == 1
    assert queue.add(song("b")) == 2
    assert queue.current is None and titles(queue.upcoming) == ["a", "b"]
    started = queue.advance()
    assert started is not None and started.title == "a"
    assert queue.current == started
    assert queue.current_index == 0
    assert titles(queue.upcoming) == ["b"]


def test_entry_ids_tell_the_same_song_twice_apart() -> None:
    queue = Queue()
    queue.add(song("a"))
    queue.add(song("a"))
    ids = [t.entry_id for t in queue]
    assert len(set(ids)) == 2 and all(ids)
    queue.add(song("c", entry_id="mine"))
    queue.add(song("d", entry_id="mine"))  # taken: renamed
    assert [t.entry_id for t in queue][2] == "mine"
    assert len({t.entry_id for t in queue}) == 4


def test_add_next_insert_and_positions() -> None:
    queue = playing("now", "b", "c")
    assert queue.add_next(song("next")) == 1
    assert queue.insert(3, song("third")) == 3
    assert queue.insert(99, song("last")) == 5
    assert queue.insert(-4, song("first")) == 1
    assert titles(queue.upcoming) == ["first", "next", "b", "third", "c", "last"]
    assert queue.current is not None and queue.current.title == "now"


def test_remove_and_remove_range() -> None:
    queue = playing("now", "a", "b", "c", "d")
    assert queue.remove(2).title == "b"
    assert titles(queue.remove_range(1, 2)) == ["a", "c"]
    assert titles(queue.upcoming) == ["d"]
    with pytest.raises(QueuePositionError) as caught:
        queue.remove(2)
    assert (caught.value.position, caught.value.upcoming) == (2, 1)
    with pytest.raises(QueuePositionError):
        queue.remove(0)  # the current track is not an upcoming position
    with pytest.raises(QueuePositionError):
        queue.remove_range(1, 3)


def test_move() -> None:
    queue = playing("now", "a", "b", "c")
    assert queue.move(3, 1).title == "c"
    assert titles(queue.upcoming) == ["c", "a", "b"]
    queue.move(1, 10)
    assert titles(queue.upcoming) == ["a", "b", "c"]
    assert queue.current is not None and queue.current.title == "now"


def test_clear_keeps_the_current_track_unless_told() -> None:
    queue = playing("now", "a", "b")
    assert queue.clear() == 2
    assert titles(queue) == ["now"]
    assert queue.clear(keep_current=False) == 1
    assert queue.current is None and len(queue) == 0


def test_shuffle_uses_the_given_rng_and_keeps_current() -> None:
    names = [f"t{i}" for i in range(20)]
    one, two = playing(*names), playing(*names)
    one.shuffle(random.Random(7))
    two.shuffle(random.Random(7))
    assert titles(one) == titles(two)
    assert titles(one) != names
    assert one.current is not None and one.current.title == "t0"
    assert sorted(titles(one)) == sorted(names)


def test_repeat_off_finishes_the_queue() -> None:
    queue = playing("a", "b")
    assert queue.advance() is not None
    assert queue.advance() is None
    assert queue.current is None and len(queue) == 0
    assert titles(queue.history) == ["a", "b"]
    queue.add(song("c"))  # a finished queue starts again from what is added
    assert queue.advance() is not None and queue.current is not None
    assert queue.current.title == "c"


def test_repeat_queue_wraps() -> None:
    queue = playing("a", "b", "c", repeat=RepeatMode.QUEUE)
    seen = [queue.advance() for _ in range(4)]
    assert titles(seen) == ["b", "c", "a", "b"]
    assert titles(queue) == ["b", "c", "a"]


def test_repeat_track_repeats_until_skipped() -> None:
    queue = playing("a", "b", repeat=RepeatMode.TRACK)
    assert titles([queue.advance(), queue.advance()]) == ["a", "a"]
    assert queue.history == []
    skipped_to = queue.skip()
    assert skipped_to is not None and skipped_to.title == "b"
    assert titles(queue.history) == ["a"]
    assert queue.skip() is None  # the last track: skip moves on to nothing


def test_skip_to_drops_or_rotates() -> None:
    off = playing("now", "a", "b", "c")
    assert off.skip_to(3).title == "c"
    assert titles(off) == ["c"]
    assert titles(off.history) == ["now"]
    looped = playing("now", "a", "b", "c", repeat=RepeatMode.QUEUE)
    looped.skip_to(3)
    assert titles(looped) == ["c", "now", "a", "b"]
    with pytest.raises(QueuePositionError):
        looped.skip_to(4)


def test_previous_brings_the_last_track_back() -> None:
    queue = playing("a", "b", "c")
    assert queue.previous() is None  # no history yet
    queue.skip()
    queue.skip()
    back = queue.previous()
    assert back is not None and back.title == "b"
    assert titles(queue) == ["b", "c"]
    assert titles(queue.history) == ["a"]
    looped = playing("a", "b", "c", repeat=RepeatMode.QUEUE)
    looped.advance()  # a went to the back
    back = looped.previous()
    assert back is not None and back.title == "a"
    assert titles(looped) == ["a", "b", "c"]  # moved back to the head, not duplicated


def test_history_is_capped() -> None:
    queue = playing(*(f"t{i}" for i in range(HISTORY_LIMIT + 10)))
    while queue.skip() is not None:
        pass
    assert len(queue.history) == HISTORY_LIMIT
    assert queue.history[-1].title == f"t{HISTORY_LIMIT + 9}"
    assert queue.history[0].title == "t10"


def test_max_length_is_enforced() -> None:
    queue = Queue(max_length=3)
    queue.extend([song("a"), song("b")])
    assert queue.free_slots == 1
    with pytest.raises(QueueFull) as caught:
        queue.extend([song("c"), song("d")])
    assert (caught.value.limit, caught.value.size, caught.value.adding) == (3, 2, 2)
    assert len(queue) == 2  # all or nothing
    queue.add(song("c"))
    with pytest.raises(QueueFull):
        queue.add_next(song("d"))


def test_pages() -> None:
    queue = playing("now", *(f"t{i}" for i in range(1, 24)))
    first = queue.page(1, size=10)
    assert (first.page, first.pages, first.total) == (1, 3, 23)
    assert first.items[0][0] == 1 and first.items[0][1].title == "t1"
    last = queue.page(99, size=10)
    assert last.page == 3 and [p for p, _ in last.items] == [21, 22, 23]
    assert Queue().page(1).pages == 1 and Queue().page(1).items == ()


def test_snapshot_round_trip_through_json() -> None:
    queue = playing("a", "b", "c", repeat=RepeatMode.QUEUE)
    queue.add(song("d", duration=12.5, http_headers={"User-Agent": "x"}, requester_id=42))
    queue.advance()
    data = json.loads(json.dumps(queue.snapshot()))
    restored = Queue.restore(data, max_length=queue.max_length)
    assert restored == queue
    assert restored.current == queue.current
    assert data["repeat"] == "queue"
    with pytest.raises(ValueError):
        Queue.restore({**data, "version": 99})


def test_replace_keeps_identity_and_position() -> None:
    queue = playing("now", "a")
    current = queue.current
    assert current is not None
    resolved = song("now", stream_url="https://cdn.example.com/now.opus", entry_id="other")
    assert queue.replace_current(resolved)
    assert queue.current is not None and queue.current.resolved
    assert queue.current.entry_id == current.entry_id
    upcoming = queue.at(1)
    assert queue.replace(upcoming.entry_id, song("a2"))
    assert titles(queue) == ["now", "a2"] and queue.at(1).entry_id == upcoming.entry_id
    assert not queue.replace("missing", song("x"))
    assert not Queue().replace_current(song("x"))
