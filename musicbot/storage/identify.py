"""IDENTIFY slots shared by every process of one bot, through the database.

Discord admits one IDENTIFY per ``max_concurrency`` bucket (``shard_id % max_concurrency``) per
5 s for the whole bot, whatever the number of processes.  Each bucket has one row in
``identify_buckets`` holding when its last slot was taken.  Taking a slot is one transaction:

1. serialize on the bucket: PostgreSQL ``pg_advisory_xact_lock(class, bucket)`` (released at
   COMMIT, works even before the row exists); SQLite's ``BEGIN IMMEDIATE`` write lock;
2. read the row and the *database's* clock (one clock for every machine, so clock skew between
   hosts cannot shorten the window);
3. if ``now >= last_at + window + margin`` write ``last_at = now`` and take the slot; else
   commit nothing and sleep (outside the transaction, holding no lock) until the slot frees.

The margin covers the moment between taking the slot and the IDENTIFY leaving the socket.
"""

from __future__ import annotations

import collections
from typing import Final

import structlog
import trio

from musicbot.storage.db import Database, Tx
from musicbot.storage.errors import StorageError

log = structlog.get_logger(__name__)

LOCK_CLASS: Final = 0x6D62  # first key of pg_advisory_xact_lock(int4, int4) ("mb")
MARGIN: Final = 0.25  # seconds added to the window (see the module docstring)
RETRY_FIRST: Final = 1.0  # seconds before asking an unreachable database again, doubling
RETRY_MAX: Final = 30.0


class DatabaseIdentifyCoordinator:
    """Implements ``musicbot.gateway.ratelimit.IdentifyCoordinator`` on a :class:`Database`."""

    def __init__(self, db: Database, *, margin: float = MARGIN) -> None:
        self.db = db
        self.margin = margin
        # (bucket, database time) of the slots this process took, newest last (for /metrics,
        # logs and tests; bounded).
        self.taken: collections.deque[tuple[int, float]] = collections.deque(maxlen=64)
        self.failures = 0  # attempts that found the database unreachable

    def _try(self, tx: Tx, bucket: int, window: float) -> float:
        """0 if the slot is taken now (recorded in ``taken``), else the seconds to wait."""
        if tx.dialect == "postgres":
            tx.one("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_CLASS, bucket))
        now = tx.now()
        row = tx.one("SELECT last_at FROM identify_buckets WHERE bucket = ?", (bucket,))
        if row is not None:
            free_at = float(row[0]) + window + self.margin
            if now < free_at:
                return free_at - now
        tx.execute(
            "INSERT INTO identify_buckets (bucket, last_at) VALUES (?, ?)"
            " ON CONFLICT (bucket) DO UPDATE SET last_at = excluded.last_at",
            (bucket, now),
        )
        self.taken.append((bucket, now))
        return 0.0

    async def wait_turn(self, bucket: int, window: float) -> None:
        """Return once the slot is ours.  While the database cannot be reached the shard waits
        (with backoff) rather than identify unseen by the other processes."""
        backoff = RETRY_FIRST
        while True:
            try:
                wait = await self.db.run(lambda tx: self._try(tx, bucket, window))
            except StorageError as exc:
                self.failures += 1
                log.warning("identify_slot_unavailable", bucket=bucket, error=str(exc))
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            if wait <= 0:
                log.debug("identify_slot_taken", bucket=bucket)
                return
            log.info("identify_waiting_for_other_process", bucket=bucket, seconds=round(wait, 2))
            await trio.sleep(wait)
