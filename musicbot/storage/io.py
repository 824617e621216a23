"""Running blocking file work off the Trio loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import attrs
import trio

R = TypeVar("R")

DEFAULT_IO_THREADS: Final = 4  # small files; more threads would only contend for the disk


@attrs.define
class FileIO:
    """Every storage operation runs as one call here: a worker thread under a shared limiter.

    The thread is not abandoned on cancellation (trio's default), so a started write always
    finishes its temp-fsync-rename sequence even if the caller is cancelled meanwhile.
    """

    limiter: trio.CapacityLimiter = attrs.field(
        factory=lambda: trio.CapacityLimiter(DEFAULT_IO_THREADS)
    )

    async def run(self, fn: Callable[[], R]) -> R:
        """Run ``fn`` in a worker thread under the limiter; its result (or its exception)."""
        return await trio.to_thread.run_sync(fn, limiter=self.limiter)
