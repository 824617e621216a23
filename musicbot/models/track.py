"""The Track model: what the extractor produces and the player consumes."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Track:
    """One playable item.

    ``stream_url`` may be empty for a lazily resolved playlist entry; the guild actor asks the
    extractor to resolve it (by ``webpage_url``) just before it plays.  ``stream_expires_at`` is
    a wall-clock UNIX time (``None`` = unknown) after which the stream URL must be re-extracted.
    ``codec`` is the source audio codec as yt-dlp names it (``"opus"``, ``"mp3"``…), so the player
    can copy Opus instead of transcoding it.
    """

    title: str
    webpage_url: str
    stream_url: str = ""
    http_headers: dict[str, str] = attrs.field(factory=dict)
    duration: float | None = None
    is_live: bool = False
    thumbnail: str | None = None
    uploader: str | None = None
    codec: str | None = None
    container: str | None = None
    stream_expires_at: float | None = None
    # Whether the stream host honours byte ranges (None = not checked).  A host that does not
    # answers every request from the first byte, so a seek or a reconnect must not re-request.
    seekable: bool | None = None
    requester_id: int | None = None
    # Unique per queue entry so the same song queued twice stays two entries.
    entry_id: str = ""
    # Queued by autoplay (actors.guild.autoplay), not by a member: marked in /queue and in
    # now-playing.  Kept in session snapshots; a saved playlist does not keep it.
    autoplay: bool = False
    # The page the audio really comes from when it is not ``webpage_url``: a Spotify track's
    # mirror (actors.extractor.spotify).  What autoplay asks for related tracks of, and what
    # it must not play again.
    mirror_url: str | None = None

    @property
    def pages(self) -> tuple[str, ...]:
        """The track's own page, then its mirror's, if any."""
        return (self.webpage_url, self.mirror_url) if self.mirror_url else (self.webpage_url,)

    @property
    def resolved(self) -> bool:
        return bool(self.stream_url)

    def with_requester(self, user_id: int, entry_id: str) -> Track:
        """A copy of the track requested by ``user_id`` as queue entry ``entry_id``."""
        return attrs.evolve(self, requester_id=user_id, entry_id=entry_id)

    def in_place_of(self, entry: Track) -> Track:
        """This track (freshly extracted) standing in for queue entry ``entry``: what makes
        it that entry (who asked, the entry id, the autoplay mark) carries over."""
        return attrs.evolve(
            self, requester_id=entry.requester_id, entry_id=entry.entry_id, autoplay=entry.autoplay
        )
