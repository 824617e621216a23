"""What is stored on disk: playlists, guild settings and session snapshots (plain attrs data)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from musicbot.models.track import Track
from musicbot.storage.codec import Codec

Language = Literal["en", "vi"]


@attrs.frozen(kw_only=True)
class StoredTrack:
    """The persistent subset of :class:`Track`.  Stream URLs expire, so they are never stored;
    the guild actor re-resolves ``webpage_url`` through the extractor when the track plays."""

    title: str
    webpage_url: str
    duration: float | None = None
    uploader: str | None = None
    thumbnail: str | None = None
    is_live: bool = False

    @classmethod
    def from_track(cls, track: Track) -> StoredTrack:
        """The stored form of ``track`` (what a playlist keeps of it)."""
        return cls(
            title=track.title,
            webpage_url=track.webpage_url,
            duration=track.duration,
            uploader=track.uploader,
            thumbnail=track.thumbnail,
            is_live=track.is_live,
        )

    def to_track(self) -> Track:
        """An unresolved Track (empty ``stream_url``), ready to be queued."""
        return Track(
            title=self.title,
            webpage_url=self.webpage_url,
            duration=self.duration,
            uploader=self.uploader,
            thumbnail=self.thumbnail,
            is_live=self.is_live,
        )


@attrs.frozen(kw_only=True)
class Playlist:
    name: str  # display name, as the user typed it (normalized)
    owner_id: int  # the creator
    created_at: float  # UNIX time
    updated_at: float
    tracks: tuple[StoredTrack, ...] = ()

    @property
    def total_duration(self) -> float:
        return sum(t.duration or 0.0 for t in self.tracks)


@attrs.frozen(kw_only=True)
class GuildSettings:
    dj_role_id: int | None = None
    stay_24_7: bool = False
    # percent 0..200; None = [audio] default_volume
    default_volume: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional([attrs.validators.ge(0), attrs.validators.le(200)]),
    )
    language: Language | None = None  # None = each user's Discord locale
    # Share of the listeners (percent 1..100) whose votes skip a track; None = the default (50).
    fair_queue: bool = False  # upcoming tracks take turns by requester (actors.guild.fair_queue)
    autoplay: bool = False  # related tracks follow when the queue runs out (actors.guild.autoplay)
    # /eq: the gain in dB (-12..12) of each of the 15 bands of musicbot.audio.effects.EQ_BANDS;
    # empty = flat.
    eq: tuple[int, ...] = ()
    vote_skip_percent: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional([attrs.validators.ge(1), attrs.validators.le(100)]),
    )


@attrs.frozen(kw_only=True)
class SessionSnapshot:
    """What a guild actor needs to resume after a restart.

    ``queue`` is the queue model's own JSON-able snapshot, opaque to storage.
    """

    guild_id: int
    voice_channel_id: int
    text_channel_id: int | None
    queue: dict[str, Any]
    position: float  # seconds into the current track
    repeat_mode: str
    volume: int
    stay_24_7: bool
    saved_at: float  # UNIX time
    # The session's /filter (preset name and its amount), so a restart plays on through it;
    # the equalizer is the server's setting, stored with the settings.  Absent (None) in a
    # session saved before filters were kept, and ignored by a bot that predates them.
    filter_preset: str | None = None
    filter_amount: int | None = None


PLAYLIST_CODEC: Codec[Playlist] = Codec("playlist", Playlist, 1)
SETTINGS_CODEC: Codec[GuildSettings] = Codec("guild_settings", GuildSettings, 1)
SESSION_CODEC: Codec[SessionSnapshot] = Codec("session", SessionSnapshot, 1)
