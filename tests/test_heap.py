"""The start-up heap freeze (musicbot.heap), in a child interpreter: gc.freeze is process-wide
and would otherwise hold on to the test process's objects."""

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
