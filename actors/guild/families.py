"""The command families of a guild actor, joined into the table its supervisor hands it.

The one place that knows every family; the actor itself imports none of them (see
``actors.guild.table`` for why).
"""

from __future__ import annotations

from actors.guild import (
    autoplay,
    commands,
    filters,
    lyrics,
    ops_commands,
    playlists,
    progress,
    settings,
)
from actors.guild.table import CommandTable


def default_table() -> CommandTable:
    """Music, playlists, settings and ops commands (built afresh: families are plain data)."""
    return CommandTable.of(
        commands.FAMILY,
        playlists.FAMILY,
        settings.FAMILY,
        ops_commands.FAMILY,
        lyrics.FAMILY,
        progress.FAMILY,
        autoplay.FAMILY,
        filters.FAMILY,
    )


__all__ = ["default_table"]
