"""The extractor's handle: how other actors ask it for tracks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import trio

from actors.extractor.messages import (
    Extract,
    ExtractorMsg,
    ExtractOutcome,
    Failure,
    Related,
    Resolve,
    Search,
    SearchResult,
)
from actors.kit.mailbox import ask
from musicbot.extract.errors import ExtractionError
from musicbot.models.track import Track
from musicbot.safety import Refusal

if TYPE_CHECKING:
    from actors.extractor.pool import Pool

NAME = "extractor"


@attrs.frozen
class ExtractorHandle:
    """How other actors ask for tracks.  Every method raises ``ExtractionError`` (with a
    ``reason``) or ``Refusal`` (unsafe or empty input) on failure, ``ActorDeadError`` /
    ``ActorTimeoutError`` when the actor is gone or stuck."""

    inbox: trio.MemorySendChannel[ExtractorMsg]
    timeout: float  # [extractor] timeout plus slack for the queue and the cache
    # The worker processes, for their counters (metrics, tests); None for a bare handle.
    pool: Pool | None = attrs.field(default=None, kw_only=True, eq=False)

    async def extract(self, query: str, requester_id: int | None = None) -> ExtractOutcome:
        """A link to a track or a playlist, or search words (then a ``SearchResult``)."""
        answer: ExtractOutcome | Failure = await ask(
            self.inbox,
            lambda r: Extract(query=query, requester_id=requester_id, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer

    async def resolve(self, track: Track, *, force: bool = False) -> Track:
        """``track`` with a fresh stream URL; ``force`` after the old one was refused (403)."""
        answer: Track | Failure = await ask(
            self.inbox,
            lambda r: Resolve(track=track, force=force, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer

    async def refresh(self, track: Track) -> Track:
        """A new stream URL for a track whose URL stopped working (HTTP 403 at open, or an
        expiry mid-song: resume at the position with the result, once).  Same as
        ``resolve(track, force=True)``: the cache is skipped and then updated."""
        return await self.resolve(track, force=True)

    async def search(self, text: str, requester_id: int | None = None) -> SearchResult:
        """Search for ``text``: the candidates, or raises as the class says."""
        answer: SearchResult | Failure = await ask(
            self.inbox,
            lambda r: Search(text=text, requester_id=requester_id, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer

    async def related(self, track: Track) -> tuple[Track, ...]:
        """Tracks related to ``track`` (unresolved, ``track`` itself left out), for autoplay;
        raises ``ExtractionError`` with ``NO_RESULTS`` when there are none."""
        answer: SearchResult | Failure = await ask(
            self.inbox,
            lambda r: Related(track=track, reply=r),
            actor=NAME,
            timeout=self.timeout,
        )
        if isinstance(answer, ExtractionError | Refusal):
            raise answer
        return answer.tracks
