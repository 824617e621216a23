"""The start-up heap, frozen out of CPython's full collections once the bot has started.

Theory.  CPython's cyclic collector stops the whole process while it runs, the voice clock
with it.  A full (generation 2) collection walks every tracked object, and most of them are
the bot's start-up heap: modules, classes, functions, the config, the command tables, about
77,000 objects once :mod:`musicbot.app` is imported, which a full collection takes 45 ms to
walk on the 2-core test machine (more than two ticks of every stream).  None of that is ever
garbage.  :func:`freeze_startup_heap` runs one full collection (so no garbage gets frozen)
and moves every survivor into the permanent generation (``gc.freeze``): later full
collections walk only what was made since, so their pause shrinks by that much (the
collector's frequency rule counts only unfrozen objects, so the total collection CPU stays
about what it was; what changes is the length of each stop).  Frozen objects are still freed
by reference counting; only a cycle among them would never be collected, and the start-up
heap does not become garbage.

The command line calls it once the app has started (:func:`musicbot.app.run` and
:func:`musicbot.app.run_embedded`), not :func:`musicbot.app.serve`, which tests start many times
in one process.  The benchmark calls it where the bot would, before its streams start.
"""

from __future__ import annotations

import gc
import time

import structlog

log = structlog.get_logger(__name__)


def freeze_startup_heap() -> int:
    """Collect, then freeze every surviving object; returns how many are frozen in all."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap_frozen",
        objects=frozen,
        pause_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return frozen
