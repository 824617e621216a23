"""Per-guild settings in ``<data_dir>/guilds/<guild_id>/settings.json``.

Owned by the guild's actor (the only task that reads or writes this file; no locks).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from musicbot.storage import files
from musicbot.storage.io import FileIO
from musicbot.storage.models import SETTINGS_CODEC, GuildSettings


@attrs.define
class GuildSettingsStore:
    path: Path
    io: FileIO

    async def load(self) -> GuildSettings:
        """The saved settings, or the defaults if none were saved (CorruptFile if unreadable)."""
        found = await self.io.run(lambda: files.read_document(self.path, SETTINGS_CODEC))
        return found if found is not None else GuildSettings()

    async def save(self, settings: GuildSettings) -> None:
        await self.io.run(lambda: files.write_document(self.path, settings, SETTINGS_CODEC))
