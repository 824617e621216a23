"""Personal playlists (usable in any guild), owned by one actor."""

from actors.playlists.actor import NAME, PersonalPlaylistsHandle, run, start
from actors.playlists.messages import PlaylistsMsg

__all__ = ["NAME", "PersonalPlaylistsHandle", "PlaylistsMsg", "run", "start"]
