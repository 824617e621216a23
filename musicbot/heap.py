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

Full collections while music plays.  Freezing shortens a full collection; it does not make it
short.  What a full collection walks grows with the streams (about 215 tracked objects each:
their tasks, channels, sockets, HTTP state), and on the 2-core machine it takes 35-45 ms at
300 streams and 170-320 ms at 1000, during which no stream of the process gets a packet (one
re-anchor each time, an audible gap).  CPython starts one by itself whenever enough objects
have survived into the old generation, which at 1000 streams is every few seconds.
:class:`HeapKeeper` takes that decision over: CPython keeps collecting the young generations as
usual (cheap, and where almost all garbage dies), but no longer starts a full collection on
its own; the keeper runs one when nothing plays (the voice clock idle, at most once a minute,
and only if anything reached the old generation since the last one), or, wherever the music
is, once the process's resident memory has grown by more than new streams explain
(``PER_STREAM_BYTES`` each, about twice what one costs) by ``GROWTH_MIN_BYTES`` and
``GROWTH_FRACTION`` over what it was right after the last one.  Cyclic garbage is the only
thing a full collection frees, and all it can cost is memory: with no unexplained growth
there is nothing worth a pause.  Every full collection it runs is logged as
``heap_collected`` with its reason, pause and what it freed.

The command line calls both once the app has started (:func:`musicbot.app.run` and
:func:`musicbot.app.run_embedded`, through ``serve(manage_heap=True)``), not a plain
:func:`musicbot.app.serve`, which tests start many times in one process.  The benchmark does
what the bot does, before its streams start.
"""

from __future__ import annotations

import collections
import gc
import os
import resource
import time
from collections.abc import Callable
from typing import Final

import structlog
import trio

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


FULL_NEVER: Final = 2**30  # a generation-2 threshold no count of young collections reaches
CHECK_S: Final = 5.0  # how often the keeper looks
IDLE_MIN_INTERVAL_S: Final = 60.0  # at most one idle full collection a minute
GROWTH_MIN_BYTES: Final = 64 * 1024 * 1024
GROWTH_FRACTION: Final = 0.5  # and half of the resident memory after the last collection
PER_STREAM_BYTES: Final = 512 * 1024  # growth a new stream explains (it costs 130-260 KiB)
RECENT: Final = 32  # reasons of the last full collections kept (the process may run for years)


def resident_bytes() -> int:
    """The process's resident memory now (``/proc/self/statm``; the peak where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return pages * os.sysconf("SC_PAGE_SIZE")


def decide(
    *,
    streams: int,
    streams_after_full: int,
    since_full: float,
    promoted: int,
    rss: int,
    rss_after_full: int,
) -> str | None:
    """Why a full collection is due now, or None.  ``streams``: playing now, and right after
    the last full collection; ``since_full``: seconds since it; ``promoted``: young-generation
    collections since then (nothing reached the old generation without one); memory in
    bytes."""
    explained = PER_STREAM_BYTES * max(0, streams - streams_after_full)
    if rss - rss_after_full - explained >= max(GROWTH_MIN_BYTES, GROWTH_FRACTION * rss_after_full):
        return "memory"
    if streams == 0 and promoted > 0 and since_full >= IDLE_MIN_INTERVAL_S:
        return "idle"
    return None


class HeapKeeper:
    """Decides when the process runs a full collection (see the module doc).  ``streams``:
    how many streams play now.  Start :meth:`run` in the root nursery, once per process."""

    def __init__(
        self,
        streams: Callable[[], int],
        *,
        rss: Callable[[], int] = resident_bytes,
        check_every: float = CHECK_S,
        on_collect: Callable[[str, float], None] = lambda _reason, _seconds: None,
    ) -> None:
        self.streams = streams
        self.on_collect = on_collect  # (reason, pause in seconds): the metrics
        self.rss = rss
        self.check_every = check_every
        self.runs = 0  # full collections it ran
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT)  # their reasons
        self._last = 0.0
        self._rss_after = 0
        self._streams_after = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the full collections until cancelled; CPython's own rule is back afterwards."""
        previous = gc.get_threshold()
        gc.set_threshold(previous[0], previous[1], FULL_NEVER)
        self._mark()
        log.info("heap_keeper_started", young_thresholds=list(previous[:2]))
        task_status.started()
        try:
            while True:
                await trio.sleep(self.check_every)
                reason = decide(
                    streams=self.streams(),
                    streams_after_full=self._streams_after,
                    since_full=trio.current_time() - self._last,
                    promoted=gc.get_count()[2],
                    rss=self.rss(),
                    rss_after_full=self._rss_after,
                )
                if reason is not None:
                    self.collect(reason)
        finally:
            gc.set_threshold(*previous)

    def collect(self, reason: str) -> int:
        """Run a full collection now and log it; returns the objects it freed."""
        started = time.perf_counter()
        before = self.rss()
        freed = gc.collect()
        pause = time.perf_counter() - started
        pause_ms = round(pause * 1000, 1)
        self._mark()
        self.runs += 1
        self.recent.append(reason)
        self.on_collect(reason, pause)
        report = log.info if reason == "idle" else log.warning
        report(
            "heap_collected",
            reason=reason,
            pause_ms=pause_ms,
            freed=freed,
            rss_mib_before=round(before / 2**20, 1),
            rss_mib=round(self._rss_after / 2**20, 1),
        )
        return freed

    def _mark(self) -> None:
        self._last = trio.current_time()
        self._rss_after = self.rss()
        self._streams_after = self.streams()
