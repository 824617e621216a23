"""Messages of the guild actor: what the router sends in, and what its own tasks report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from actors.extractor.messages import ExtractOutcome
from actors.responder import Responder
from musicbot.audio.messages import PlayerEvent
from musicbot.models.track import Track
from musicbot.storage import SessionSnapshot
from musicbot.voice.events import VoiceEvent


@attrs.frozen(kw_only=True)
class Invocation:
    """A slash command or a component interaction from a member, parsed by the router.

    ``name`` is the command path ("play", "playlist save") or, for a component, its custom id
    ("np:pause", "queue:page:2", "search:<token>").  ``voice_channel_id`` is where the member
    was in voice when the router saw the interaction.
    """

    name: str
    options: Mapping[str, Any] = attrs.field(factory=dict)
    values: tuple[str, ...] = ()
    user_id: int
    roles: tuple[int, ...] = ()
    permissions: int = 0
    channel_id: int | None = None
    voice_channel_id: int | None = None
    locale: str | None = None
    reply: Responder


@attrs.frozen(kw_only=True)
class Command:
    inv: Invocation


@attrs.frozen(kw_only=True)
class MemberVoiceState:
    """Any member's VOICE_STATE_UPDATE in this guild (the bot's own included)."""

    user_id: int
    channel_id: int | None
    session_id: str


@attrs.frozen(kw_only=True)
class VoiceServer:
    token: str = attrs.field(repr=False)
    endpoint: str | None


@attrs.frozen(kw_only=True)
class GatewayReady:
    """The guild's shard began a new gateway session (READY, not RESUMED): events sent on the
    old one are lost, so a call waiting for the gateway must ask again on the new one."""


@attrs.frozen(kw_only=True)
class ChannelGone:
    channel_id: int


@attrs.frozen(kw_only=True)
class RestoreSession:
    """Resume a session saved before the process stopped (sent once, after GUILD_CREATE)."""

    snapshot: SessionSnapshot


@attrs.frozen(kw_only=True)
class Shutdown:
    """Graceful stop: snapshot, silence, leave voice; ``done`` is answered when it is safe."""

    leave_voice: bool = True


# -- reports from the actor's own tasks ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class Extracted:
    inv: Invocation
    play_next: bool
    outcome: ExtractOutcome | None = None
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class PlaylistBatch:
    inv: Invocation
    tracks: tuple[Track, ...]


@attrs.frozen(kw_only=True)
class PlaylistTrackFound:
    """The extraction behind ``/playlist add`` finished (see ``actors.guild.playlists``)."""

    inv: Invocation
    track: Track | None = None
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class Resolved:
    entry_id: str
    track: Track | None = None
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class FromPlayer:
    event: PlayerEvent


@attrs.frozen(kw_only=True)
class LyricsFound:
    """A /lyrics look-up's outcome (actors.guild.lyrics): lyrics, None (none known) or error."""

    inv: Invocation
    entry_id: str
    title: str
    lyrics: Any = None
    error: Exception | None = None


@attrs.frozen(kw_only=True)
class AutoplayFound:
    """Tracks related to the queue entry ``entry_id`` (titled ``title``) for autoplay
    (actors.guild.autoplay), or why there are none."""

    entry_id: str
    title: str
    tracks: tuple[Track, ...] = ()
    error: Exception | None = None


@attrs.frozen(kw_only=True)
class ProgressTick:
    """The guild actor's own lossy clock ([voice] now_playing_refresh), for its families."""


@attrs.frozen(kw_only=True)
class FromVoice:
    event: VoiceEvent


GuildMsg: TypeAlias = (
    Command
    | MemberVoiceState
    | VoiceServer
    | GatewayReady
    | ChannelGone
    | RestoreSession
    | Shutdown
    | Extracted
    | PlaylistBatch
    | PlaylistTrackFound
    | LyricsFound
    | AutoplayFound
    | ProgressTick
    | Resolved
    | FromPlayer
    | FromVoice
)
"""Everything the guild actor's inbox carries."""
