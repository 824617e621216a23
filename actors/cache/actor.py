"""The cache actor: sole owner of cached extraction results.

Who consults the cache: the extractor actor does (it is given a :class:`CacheHandle`), inside
each single-flight task, so callers of the extractor never see the cache.  Keys are chosen by the
extractor (``url:<page url>``, ``search:<provider><N>:<text>``).  The TTL of an entry is chosen
by the writer (a resolved stream URL lives until shortly before it expires, flat metadata for
``[cache] ttl``) and capped by ``[cache] ttl``; failures live ``[cache] negative_ttl``.

Time is ``trio.current_time()`` so tests drive it with ``MockClock``.
"""

from __future__ import annotations

import functools
from typing import assert_never

import attrs
import structlog
import trio

from actors.cache.core import CacheStats, Popularity, Store, Suggestion
from actors.cache.messages import (
    CacheMsg,
    Get,
    Invalidate,
    Lookup,
    Note,
    Put,
    PutFailure,
    Stats,
    Suggest,
)
from actors.kit.mailbox import ask, open_mailbox, reply
from musicbot.config import CacheConfig
from musicbot.extract.errors import ExtractionError
from musicbot.extract.info import Extraction

log = structlog.get_logger(__name__)
NAME = "cache"
ASK_TIMEOUT = 5.0


@attrs.frozen
class CacheHandle:
    """How other actors use the cache.  Writes are fire-and-forget (bounded inbox)."""

    inbox: trio.MemorySendChannel[CacheMsg]

    async def get(self, key: str) -> Lookup:
        """The cached extraction (or remembered failure) for ``key``, or a miss."""
        return await ask(
            self.inbox, lambda r: Get(key=key, reply=r), actor=NAME, timeout=ASK_TIMEOUT
        )

    async def put(self, key: str, value: Extraction, ttl: float) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds (fire-and-forget)."""
        await self.inbox.send(Put(key=key, value=value, ttl=ttl))

    async def put_failure(self, key: str, error: ExtractionError) -> None:
        """Remember for a while that ``key`` failed with ``error`` (a negative entry;
        fire-and-forget)."""
        await self.inbox.send(PutFailure(key=key, error=error))

    async def invalidate(self, key: str) -> None:
        """Forget ``key`` (fire-and-forget)."""
        await self.inbox.send(Invalidate(key=key))

    async def note(self, title: str, url: str) -> None:
        """Remember that ``title`` was played from ``url``, for autocomplete suggestions
        (fire-and-forget)."""
        await self.inbox.send(Note(title=title, url=url))

    async def suggest(self, prefix: str, limit: int = 10) -> tuple[Suggestion, ...]:
        """Up to ``limit`` remembered titles that match ``prefix``, most played first."""
        return await ask(
            self.inbox,
            lambda r: Suggest(prefix=prefix, limit=limit, reply=r),
            actor=NAME,
            timeout=ASK_TIMEOUT,
        )

    async def stats(self) -> CacheStats:
        """The cache's counters and size now."""
        return await ask(self.inbox, lambda r: Stats(reply=r), actor=NAME, timeout=ASK_TIMEOUT)


async def _sweeper(store: Store[Extraction | ExtractionError], interval: float) -> None:
    while True:
        await trio.sleep(interval)
        dropped = store.sweep(trio.current_time())
        if dropped:
            log.debug("cache_swept", expired=dropped, size=len(store))


async def run(
    inbox: trio.MemoryReceiveChannel[CacheMsg],
    *,
    config: CacheConfig,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the cache until the inbox closes."""
    store: Store[Extraction | ExtractionError] = Store(config.max_entries)
    popular = Popularity()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sweeper, store, config.sweep_interval)
        task_status.started()
        async with inbox:
            async for msg in inbox:
                now = trio.current_time()
                match msg:
                    case Get(key=key, reply=r):
                        found = store.get(key, now)
                        reply(r, None if found is None else found[0])
                    case Put(key=key, value=value, ttl=ttl):
                        store.put(key, value, now, min(ttl, config.ttl))
                    case PutFailure(key=key, error=error):
                        store.put(key, error, now, config.negative_ttl, negative=True)
                    case Invalidate(key=key):
                        store.invalidate(key)
                    case Note(title=title, url=url):
                        popular.note(title, url, now)
                    case Suggest(prefix=prefix, limit=limit, reply=r):
                        reply(r, popular.suggest(prefix, limit))
                    case Stats(reply=r):
                        reply(r, store.stats())
                    case _:
                        assert_never(msg)
        nursery.cancel_scope.cancel()


async def start(nursery: trio.Nursery, config: CacheConfig) -> CacheHandle:
    """Open the cache's inbox, start it in ``nursery`` and return its handle."""
    mailbox = open_mailbox(NAME)
    await nursery.start(functools.partial(run, mailbox.receive, config=config))
    return CacheHandle(mailbox.send)
