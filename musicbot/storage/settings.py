"""Per-guild settings in ``<data_dir>/guilds/<guild_id>/settings.json``.

Owned by the guild's actor (the only task that reads or writes this file; no locks).

Settings always have a meaning without a file (the defaults), so an unreadable file with no
good backup does not lock the guild out: it is moved aside (``settings.json.corrupt-<ts>``,
kept for the operator), reported as ``guild_settings_unreadable``, and the defaults are used.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import structlog

from musicbot.storage import files
from musicbot.storage.errors import CorruptFile
from musicbot.storage.io import FileIO
from musicbot.storage.models import SETTINGS_CODEC, GuildSettings
from musicbot.storage.sql_docs import SqlSettings

log = structlog.get_logger(__name__)


def _load(path: Path) -> GuildSettings:
    try:
        found = files.read_document(path, SETTINGS_CODEC)
    except CorruptFile as exc:
        moved = files.set_aside(path)
        log.error(
            "guild_settings_unreadable",
            path=str(path),
            reason=exc.reason,
            moved_aside=[str(m) for m in moved],
            using="defaults",
        )
        return GuildSettings()
    return found if found is not None else GuildSettings()


@attrs.define
class GuildSettingsStore:
    path: Path
    io: FileIO
    sql: SqlSettings | None = None  # the database engine; ``path`` is unused then

    async def load(self) -> GuildSettings:
        """The saved settings, or the defaults if none were saved or the file is unreadable."""
        if self.sql is not None:
            return await self.sql.load()
        return await self.io.run(lambda: _load(self.path))

    async def save(self, settings: GuildSettings) -> None:
        """Replace the settings (database: ``Conflict`` if another process changed them since
        this one loaded them)."""
        if self.sql is not None:
            await self.sql.save(settings)
            return
        # A full overwrite: an unreadable old file is moved aside (kept), not a reason to refuse.
        await self.io.run(
            lambda: files.write_document(
                self.path, settings, SETTINGS_CODEC, replace_unreadable=True
            )
        )
