"""Messages of the extractor actor and the shapes of its answers."""

from __future__ import annotations

from typing import TypeAlias

import attrs
import trio

from musicbot.extract.errors import ExtractionError
from musicbot.models.track import Track
from musicbot.safety import Refusal


@attrs.frozen(kw_only=True)
class SingleResult:
    """One resolved track, ready to play."""

    track: Track


@attrs.frozen(kw_only=True)
class PlaylistResult:
    """A playlist: ``total`` unresolved tracks arriving on ``batches``.

    Batches hold at most ``[extractor] playlist_batch_size`` tracks, ``playlist_batch_pause``
    seconds apart; the channel closes after the last one.  The receiver owns ``batches`` and
    should close it when it stops reading (the sender then stops at once; a reader that neither
    reads nor closes makes the sender give up after ``[extractor] timeout``).  Each track must be
    resolved (``ExtractorHandle.resolve``) just before it plays.
    """

    title: str
    webpage_url: str
    total: int
    truncated: bool
    batches: trio.MemoryReceiveChannel[tuple[Track, ...]]


@attrs.frozen(kw_only=True)
class SearchResult:
    """Up to ``[extractor] search_results`` unresolved tracks for a picker."""

    query: str
    tracks: tuple[Track, ...]


ExtractOutcome: TypeAlias = SingleResult | PlaylistResult | SearchResult
Failure: TypeAlias = ExtractionError | Refusal


@attrs.frozen(kw_only=True)
class Extract:
    """What a user typed: a link (track or playlist) or search words."""

    query: str
    requester_id: int | None
    reply: trio.MemorySendChannel[ExtractOutcome | Failure]


@attrs.frozen(kw_only=True)
class Resolve:
    """A playable copy of ``track``; ``force`` skips the cache (the old URL was refused)."""

    track: Track
    force: bool
    reply: trio.MemorySendChannel[Track | Failure]


@attrs.frozen(kw_only=True)
class Search:
    text: str
    requester_id: int | None
    reply: trio.MemorySendChannel[SearchResult | Failure]


@attrs.frozen(kw_only=True)
class Related:
    """Tracks related to ``track`` for autoplay (``actors.extractor.related``): flat and
    unresolved, the seed left out."""

    track: Track
    reply: trio.MemorySendChannel[SearchResult | Failure]


ExtractorMsg: TypeAlias = Extract | Resolve | Search | Related
"""Everything the extractor actor's inbox carries."""
