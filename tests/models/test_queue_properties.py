"""Hypothesis properties of the queue: nothing lost or duplicated, the current track is stable,
repeat modes behave at the ends, the history is capped, and snapshots survive JSON."""

from __future__ import annotations

import json
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from musicbot.models.queue import HISTORY_LIMIT, Queue, QueueFull, RepeatMode
from musicbot.models.track import Track

MAX = 12

tracks = st.builds(
    Track,
    title=st.sampled_from(["a", "b", "c", "Sơn Tùng", "日本"]),
    webpage_url=st.just("https://example.com/x"),
    duration=st.none() | st.floats(0, 36000, allow_nan=False, allow_infinity=False),
    http_headers=st.dictionaries(st.sampled_from(["Referer", "User-Agent"]), st.text(max_size=5)),
    requester_id=st.none() | st.integers(1, 2**63),
    entry_id=st.sampled_from(["", "", "x1", "q1", "q2"]),
)
modes = st.sampled_from(list(RepeatMode))


def ids(queue: Queue) -> list[str]:
    return [t.entry_id for t in queue]


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue = Queue(max_length=MAX)

    # -- growing ------------------------------------------------------------------------

    @rule(track=tracks, where=st.sampled_from(["add", "next", "insert"]), pos=st.integers(-2, 15))
    def add(self, track: Track, where: str, pos: int) -> None:
        before = ids(self.queue)
        current = self.queue.current
        try:
            if where == "add":
                self.queue.add(track)
            elif where == "next":
                self.queue.add_next(track)
            else:
                self.queue.insert(pos, track)
        except QueueFull:
            assert len(before) == MAX
            assert ids(self.queue) == before
            return
        after = ids(self.queue)
        assert len(after) == len(before) + 1
        assert Counter(after) - Counter(before) != Counter()
        assert [i for i in after if i in before] == before  # the others keep their order
        assert self.queue.current == current

    @rule(batch=st.lists(tracks, max_size=5))
    def extend(self, batch: list[Track]) -> None:
        before = ids(self.queue)
        try:
            self.queue.extend(batch)
        except QueueFull:
            assert ids(self.queue) == before
            assert len(before) + len(batch) > MAX
            return
        assert ids(self.queue)[: len(before)] == before

    # -- rearranging --------------------------------------------------------------------

    @precondition(lambda self: self.queue.upcoming)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        n = len(self.queue.upcoming)
        source = data.draw(st.integers(1, n))
        target = data.draw(st.integers(1, n))
        before = ids(self.queue)
        current = self.queue.current
        moved = self.queue.move(source, target)
        assert Counter(ids(self.queue)) == Counter(before)
        assert self.queue.current == current
        assert self.queue.at(target) == moved

    @rule(seed=st.integers(0, 2**32))
    def shuffle(self, seed: int) -> None:
        before = ids(self.queue)
        current = self.queue.current
        self.queue.shuffle(random.Random(seed))
        assert Counter(ids(self.queue)) == Counter(before)
        assert self.queue.current == current

    @precondition(lambda self: self.queue.upcoming)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        n = len(self.queue.upcoming)
        first = data.draw(st.integers(1, n))
        last = data.draw(st.integers(first, n))
        before = ids(self.queue)
        current = self.queue.current
        removed = self.queue.remove_range(first, last)
        assert len(removed) == last - first + 1
        assert sorted(ids(self.queue) + [t.entry_id for t in removed]) == sorted(before)
        assert self.queue.current == current

    @rule(keep=st.booleans())
    def clear(self, keep: bool) -> None:
        current = self.queue.current
        self.queue.clear(keep_current=keep)
        assert self.queue.upcoming == []
        assert self.queue.current == (current if keep else None)

    # -- moving on ----------------------------------------------------------------------

    @rule(mode=modes)
    def repeat(self, mode: RepeatMode) -> None:
        self.queue.set_repeat(mode)

    @rule()
    def advance(self) -> None:
        q = self.queue
        before, was, mode = ids(q), q.current, q.repeat
        now = q.advance()
        assert now == q.current
        if was is None:
            assert ids(q) == before  # starting does not change the entries
        elif mode is RepeatMode.TRACK:
            assert now == was and ids(q) == before
        elif mode is RepeatMode.QUEUE:
            assert ids(q) == before[1:] + before[:1]  # a rotation: nothing lost
        else:
            assert ids(q) == before[1:]
            assert (now is None) == (len(before) == 1)

    @rule()
    def skip(self) -> None:
        q = self.queue
        before, was = ids(q), q.current
        now = q.skip()
        if was is not None and q.repeat is not RepeatMode.QUEUE:
            assert ids(q) == before[1:]
            assert q.history[-1] == was
        if was is not None and q.repeat is RepeatMode.QUEUE:
            assert ids(q) == before[1:] + before[:1]
        assert now == q.current

    @precondition(lambda self: self.queue.upcoming)
    @rule(data=st.data())
    def skip_to(self, data: st.DataObject) -> None:
        q = self.queue
        position = data.draw(st.integers(1, len(q.upcoming)))
        target = q.at(position)
        before = ids(q)
        assert q.skip_to(position) == target == q.current
        if q.repeat is RepeatMode.QUEUE:
            assert Counter(ids(q)) == Counter(before)

    @rule()
    def previous(self) -> None:
        q = self.queue
        last = q.history[-1] if q.history else None
        before = ids(q)
        try:
            back = q.previous()
        except QueueFull:
            assert len(before) == MAX
            return
        assert back == last
        if back is not None:
            assert q.current == back
            assert set(ids(q)) == set(before) | {back.entry_id}

    # -- always -------------------------------------------------------------------------

    @invariant()
    def entries_are_unique_and_bounded(self) -> None:
        entry_ids = ids(self.queue)
        assert len(entry_ids) == len(set(entry_ids))
        assert all(entry_ids)
        assert len(entry_ids) <= MAX
        assert len(self.queue.history) <= HISTORY_LIMIT

    @invariant()
    def current_is_the_head(self) -> None:
        q = self.queue
        if q.current is not None:
            head, *rest = list(q)
            assert head == q.current and q.upcoming == rest
        else:
            assert q.upcoming == list(q)

    @invariant()
    def after_current_is_what_advance_makes_current(self) -> None:
        copy = Queue.restore(self.queue.snapshot(), max_length=MAX)
        predicted = self.queue.after_current()
        copy.advance()
        if self.queue.current is None:
            assert predicted is None  # (advance then starts the head: not a "following" track)
        else:
            assert predicted == copy.current

    @invariant()
    def snapshot_survives_json(self) -> None:
        data = json.loads(json.dumps(self.queue.snapshot()))
        assert Queue.restore(data, max_length=MAX) == self.queue


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


@given(st.lists(tracks, min_size=1, max_size=MAX), st.integers(0, 40))
def test_repeat_queue_cycles_forever(batch: list[Track], steps: int) -> None:
    queue = Queue(max_length=MAX, repeat=RepeatMode.QUEUE)
    queue.extend(batch)
    queue.advance()
    order = ids(queue)
    for step in range(1, steps + 1):
        now = queue.advance()
        assert now is not None and now.entry_id == order[step % len(order)]
    assert sorted(ids(queue)) == sorted(order)


@given(st.lists(tracks, min_size=1, max_size=MAX))
def test_repeat_off_ends_after_each_track_once(batch: list[Track]) -> None:
    queue = Queue(max_length=MAX)
    queue.extend(batch)
    order = ids(queue)
    played = []
    while (now := queue.advance()) is not None:
        played.append(now.entry_id)
    assert played == order
    assert queue.current is None and len(queue) == 0
    assert [t.entry_id for t in queue.history] == order[-HISTORY_LIMIT:]


@given(st.lists(tracks, min_size=2, max_size=MAX), st.integers(1, 10))
def test_repeat_track_holds_on_natural_end_only(batch: list[Track], repeats: int) -> None:
    queue = Queue(max_length=MAX, repeat=RepeatMode.TRACK)
    queue.extend(batch)
    first = queue.advance()
    assert first is not None
    for _ in range(repeats):
        assert queue.advance() == first
    skipped_to = queue.skip()
    assert skipped_to is not None and skipped_to.entry_id == ids(queue)[0] != first.entry_id


@given(st.integers(0, 120), modes)
def test_history_keeps_the_last_fifty(count: int, mode: RepeatMode) -> None:
    queue = Queue(max_length=200, repeat=mode)
    queue.extend(Track(title=f"t{i}", webpage_url="https://example.com") for i in range(count))
    queue.advance()
    order = ids(queue)
    for _ in range(count):
        queue.skip()
    assert [t.entry_id for t in queue.history] == order[:count][-HISTORY_LIMIT:]


@given(st.lists(tracks, min_size=1, max_size=MAX), tracks, st.data())
def test_replace_changes_one_entry_only(
    batch: list[Track], new: Track, data: st.DataObject
) -> None:
    queue = Queue(max_length=MAX)
    queue.extend(batch)
    before = list(queue)
    victim = data.draw(st.sampled_from(before))
    assert queue.replace(victim.entry_id, new)
    after = list(queue)
    assert [t.entry_id for t in after] == [t.entry_id for t in before]
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert all(before[i].entry_id == victim.entry_id for i in changed)
