"""The start-up heap freeze and the heap keeper (musicbot.heap), in child interpreters: the
frozen generation and the collection thresholds are process-wide, and would otherwise change
how the test process itself collects."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import gc, json, weakref
    from musicbot.heap import freeze_startup_heap

    class Node:
        pass

    garbage = Node(); garbage.self = garbage  # a cycle only the collector can free
    dead = weakref.ref(garbage); del garbage
    kept = Node(); kept.self = kept  # a live cycle
    frozen = freeze_startup_heap()
    after = Node(); after.self = after  # made after the freeze
    walked = gc.get_objects()  # what a full collection walks: every generation but the frozen
    print(json.dumps({
        "frozen": frozen,
        "freeze_count": gc.get_freeze_count(),
        "garbage_freed_first": dead() is None,
        "kept_walked": any(o is kept for o in walked),
        "after_walked": any(o is after for o in walked),
    }))
    """
)


def test_freeze_collects_first_then_takes_the_survivors_out_of_full_collections() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["garbage_freed_first"]  # the cycle was collected, not frozen into a leak
    assert not result["kept_walked"]  # a survivor is no longer walked by collections
    assert result["after_walked"]  # what the bot makes later is collected as usual
    assert result["frozen"] == result["freeze_count"] > 1000  # the imported modules' objects


KEEPER_PROBE = textwrap.dedent(
    """
    import gc, json, trio, trio.testing
    from musicbot.heap import GROWTH_MIN_BYTES, HeapKeeper

    class Node:
        pass

    def full_collections():
        return gc.get_stats()[2]["collections"]

    def churn(keep):
        # Long-lived objects: under CPython's own rule they start full collections.
        for _ in range(50_000):
            node = Node(); node.self = node; keep.append(node)

    out = {}
    streams = [1]
    rss = [500 * 2**20]
    reported = []

    async def main():
        keeper = HeapKeeper(
            lambda: streams[0],
            rss=lambda: rss[0],
            check_every=5.0,
            on_collect=lambda reason, pause: reported.append([reason, pause > 0]),
        )
        default = gc.get_threshold()
        before = full_collections()
        churn([])
        out["cpython_rule_collects"] = full_collections() > before
        async with trio.open_nursery() as nursery:
            await nursery.start(keeper.run)
            out["threshold_while_kept"] = gc.get_threshold()[2]
            before, keep = full_collections(), []
            churn(keep)
            await trio.sleep(30)  # busy, memory flat: nothing is worth a pause
            out["busy_flat"] = [full_collections() - before, list(keeper.recent)]
            streams[0] = 1001  # growth that new streams explain
            rss[0] += GROWTH_MIN_BYTES * 4
            await trio.sleep(10)
            out["explained"] = list(keeper.recent)
            rss[0] += 2**30  # growth they do not
            await trio.sleep(10)
            out["unexplained"] = list(keeper.recent)
            streams[0] = 0  # nothing plays: one collection once a minute has passed
            churn(keep)
            await trio.sleep(30)
            out["idle_soon"] = list(keeper.recent)
            await trio.sleep(60)
            out["idle_later"] = list(keeper.recent)
            await trio.sleep(120)  # nothing new reached the old generation since
            out["idle_nothing_new"] = list(keeper.recent)
            nursery.cancel_scope.cancel()
        out["restored"] = gc.get_threshold() == default
        out["reported"] = reported

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    print(json.dumps(out))
    """
)


def test_the_heap_keeper_runs_full_collections_only_when_idle_or_memory_grew() -> None:
    out = subprocess.run(
        [sys.executable, "-c", KEEPER_PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["cpython_rule_collects"]  # the churn is enough for CPython's own rule
    assert result["threshold_while_kept"] >= 2**30
    assert result["busy_flat"] == [0, []]  # no full collection, neither CPython's nor ours
    assert result["explained"] == []
    assert result["unexplained"] == ["memory"]
    assert result["idle_soon"] == ["memory"]  # the last one was less than a minute ago
    assert result["idle_later"] == ["memory", "idle"]
    assert result["idle_nothing_new"] == ["memory", "idle"]
    assert result["restored"]
    assert result["reported"] == [["memory", True], ["idle", True]]  # what the metrics count


def test_memory_growth_is_weighed_against_the_heap_and_the_new_streams() -> None:
    from musicbot.heap import GROWTH_MIN_BYTES, PER_STREAM_BYTES, decide

    gib = 2**30
    busy = {"since_full": 3600.0, "promoted": 100}
    # A big heap needs half of itself again before a pause is worth it.
    assert (
        decide(streams=5, streams_after_full=5, rss=gib + gib // 3, rss_after_full=gib, **busy)
        is None
    )
    assert (
        decide(streams=5, streams_after_full=5, rss=gib + gib // 2, rss_after_full=gib, **busy)
        == "memory"
    )
    # A small one needs GROWTH_MIN_BYTES.
    small = 50 * 2**20
    assert (
        decide(
            streams=5,
            streams_after_full=5,
            rss=small + GROWTH_MIN_BYTES - 1,
            rss_after_full=small,
            **busy,
        )
        is None
    )
    # Streams that ended explain nothing; streams that started explain PER_STREAM_BYTES each.
    grown = small + GROWTH_MIN_BYTES + 10 * PER_STREAM_BYTES - 1
    assert (
        decide(streams=0, streams_after_full=9, rss=grown, rss_after_full=small, **busy) == "memory"
    )
    assert decide(streams=19, streams_after_full=9, rss=grown, rss_after_full=small, **busy) is None
