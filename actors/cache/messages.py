"""Messages of the cache actor."""

from __future__ import annotations

from typing import TypeAlias

import attrs
import trio

from actors.cache.core import CacheStats, Suggestion
from musicbot.extract.errors import ExtractionError
from musicbot.extract.info import Extraction

Lookup: TypeAlias = Extraction | ExtractionError | None


@attrs.frozen(kw_only=True)
class Get:
    """The cached extraction (or remembered failure) for ``key``; None on a miss."""

    key: str
    reply: trio.MemorySendChannel[Lookup]


@attrs.frozen(kw_only=True)
class Put:
    """Remember ``value`` for ``ttl`` seconds (capped by ``[cache] ttl``)."""

    key: str
    value: Extraction
    ttl: float


@attrs.frozen(kw_only=True)
class PutFailure:
    """Remember a failure for ``[cache] negative_ttl`` seconds."""

    key: str
    error: ExtractionError


@attrs.frozen(kw_only=True)
class Invalidate:
    key: str


@attrs.frozen(kw_only=True)
class Note:
    """Count a request for a track (feeds autocomplete suggestions)."""

    title: str
    url: str


@attrs.frozen(kw_only=True)
class Suggest:
    prefix: str
    limit: int
    reply: trio.MemorySendChannel[tuple[Suggestion, ...]]


@attrs.frozen(kw_only=True)
class Stats:
    reply: trio.MemorySendChannel[CacheStats]


CacheMsg: TypeAlias = Get | Put | PutFailure | Invalidate | Note | Suggest | Stats
