"""Moving data in and out of a database: the JSON ``data_dir`` import and JSON dumps.

**First start on an existing data dir.**  :func:`import_data_dir` reads every document of the
file store *without changing a file* (a damaged file falls back to its ``.bak``, as the file
store would; one with no good backup is reported), inserts everything in **one transaction**
together with a row in ``imports`` naming the folder, and only after COMMIT renames
``guilds/``, ``users/`` and ``sessions/`` to ``*.imported`` (bytes untouched, so going back is
a rename).  A crash between COMMIT and the renames is repaired at the next start: the
``imports`` row (host name and folder) says it is done, so only the renames happen.  Rows that
already exist (another process shared the database first) are kept and the file is reported as
skipped.

**Dumps** (``python -m musicbot export`` / ``import``) are one JSON object::

    {"format": "musicbot-dump", "version": 1, "exported_at": ...,
     "playlists": [{"scope": "guild"|"user", "scope_id": N, "document": {...}}, ...],
     "guild_settings": [{"guild_id": N, "document": {...}}, ...],
     "sessions": [{"guild_id": N, "document": {...}}, ...]}

where each ``document`` is the versioned envelope of :mod:`musicbot.storage.codec`, so a dump
is read with the same validation as a file.  Importing a dump is one transaction; a damaged
document is reported and kept in ``quarantine``, never loaded wrong.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Final

import attrs
import structlog

from musicbot.storage import files
from musicbot.storage.codec import Codec, DecodeProblem
from musicbot.storage.db import Tx
from musicbot.storage.errors import Scope, StorageError
from musicbot.storage.models import (
    PLAYLIST_CODEC,
    SESSION_CODEC,
    SETTINGS_CODEC,
    Playlist,
)
from musicbot.storage.schema import quarantine
from musicbot.storage.sql_playlists import INSERT_SQL, ensure_scope, playlist_values

log = structlog.get_logger(__name__)

DUMP_FORMAT: Final = "musicbot-dump"
DUMP_VERSION: Final = 1
IMPORTED_SUFFIX: Final = ".imported"
FOLDERS: Final = ("guilds", "users", "sessions")
_ID: Final = re.compile(r"^[0-9]{1,20}$")
_SESSION: Final = re.compile(r"^([0-9]{1,20})\.json$")


@attrs.define(auto_exc=True, eq=False)
class DumpError(StorageError):
    """A dump file that cannot be imported (nothing was changed)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@attrs.define
class Report:
    """What an import did: counts, and each document that could not be taken (kept)."""

    playlists: int = 0
    settings: int = 0
    sessions: int = 0
    damaged: list[tuple[str, str]] = attrs.field(factory=list)  # (where, why)
    skipped: list[tuple[str, str]] = attrs.field(factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "playlists": self.playlists,
            "settings": self.settings,
            "sessions": self.sessions,
            "damaged": [list(d) for d in self.damaged],
            "skipped": [list(s) for s in self.skipped],
        }


# ---------------------------------------------------------------------------- reading files


def _peek(path: Path, codec: Codec[Any]) -> tuple[Any, str | None]:
    """(value, None), (None, None) for no document, or (None, why): never changes a file."""
    problems: list[str] = []
    for candidate in (path, files.backup_path(path)):
        try:
            raw = candidate.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{candidate.name}: {exc.strerror}")
            continue
        try:
            return codec.decode(raw), None
        except DecodeProblem as exc:
            problems.append(f"{candidate.name}: {exc}")
    return None, ("; ".join(problems) or None)


def _ids(folder: Path) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(folder) if _ID.match(n))
    except FileNotFoundError:
        return []


@attrs.frozen
class DataDir:
    """Every document of a JSON data dir (read-only)."""

    playlists: list[tuple[Scope, int, Playlist, str]]  # scope, id, playlist, file
    settings: list[tuple[int, Any, str]]
    sessions: list[tuple[int, Any, str]]
    damaged: list[tuple[str, str]]


def read_data_dir(root: Path, *, suffix: str = "") -> DataDir:
    playlists: list[tuple[Scope, int, Playlist, str]] = []
    settings: list[tuple[int, Any, str]] = []
    sessions: list[tuple[int, Any, str]] = []
    damaged: list[tuple[str, str]] = []
    scopes: tuple[tuple[Scope, str], ...] = (("guild", "guilds"), ("user", "users"))
    for scope, folder in scopes:
        base = root / (folder + suffix)
        for scope_id in _ids(base):
            pdir = base / str(scope_id) / "playlists"
            for name in files.document_names(pdir):
                value, problem = _peek(pdir / name, PLAYLIST_CODEC)
                if value is not None:
                    playlists.append((scope, scope_id, value, str(pdir / name)))
                elif problem is not None:
                    damaged.append((str(pdir / name), problem))
            if scope == "guild":
                spath = base / str(scope_id) / "settings.json"
                value, problem = _peek(spath, SETTINGS_CODEC)
                if value is not None:
                    settings.append((scope_id, value, str(spath)))
                elif problem is not None:
                    damaged.append((str(spath), problem))
    sdir = root / ("sessions" + suffix)
    for name in files.document_names(sdir):
        m = _SESSION.match(name)
        if m is None:
            continue
        value, problem = _peek(sdir / name, SESSION_CODEC)
        if value is not None and value.guild_id == int(m.group(1)):
            sessions.append((value.guild_id, value, str(sdir / name)))
        elif problem is not None:
            damaged.append((str(sdir / name), problem))
    return DataDir(playlists, settings, sessions, damaged)


def has_json_data(root: Path) -> bool:
    return any((root / f).is_dir() for f in FOLDERS)


# ---------------------------------------------------------------------------- inserting


def _insert_playlist(tx: Tx, scope: Scope, scope_id: int, p: Playlist) -> bool:
    ensure_scope(tx, scope, scope_id, lock=False)
    return (
        tx.execute(INSERT_SQL + " ON CONFLICT DO NOTHING", playlist_values(scope, scope_id, p)) == 1
    )


def _insert_settings(tx: Tx, guild_id: int, value: Any) -> bool:
    data = SETTINGS_CODEC.encode(value).decode("utf-8")
    return (
        tx.execute(
            "INSERT INTO guild_settings (guild_id, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (guild_id, data),
        )
        == 1
    )


def _insert_session(tx: Tx, guild_id: int, value: Any) -> bool:
    data = SESSION_CODEC.encode(value).decode("utf-8")
    return (
        tx.execute(
            "INSERT INTO sessions (guild_id, data, saved_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (guild_id, data, value.saved_at),
        )
        == 1
    )


def _import_rows(tx: Tx, found: DataDir) -> Report:
    report = Report(damaged=list(found.damaged))
    for scope, scope_id, playlist, where in found.playlists:
        if _insert_playlist(tx, scope, scope_id, playlist):
            report.playlists += 1
        else:
            report.skipped.append((where, "already in the database"))
    for guild_id, value, where in found.settings:
        if _insert_settings(tx, guild_id, value):
            report.settings += 1
        else:
            report.skipped.append((where, "already in the database"))
    for guild_id, value, where in found.sessions:
        if _insert_session(tx, guild_id, value):
            report.sessions += 1
        else:
            report.skipped.append((where, "already in the database"))
    return report


def _rename_folders(root: Path) -> list[str]:
    moved: list[str] = []
    for folder in FOLDERS:
        src = root / folder
        if not src.is_dir():
            continue
        dst = root / (folder + IMPORTED_SUFFIX)
        if dst.exists():
            dst = (
                root / f"{folder}{IMPORTED_SUFFIX}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
            )
        os.replace(src, dst)
        moved.append(dst.name)
    files.fsync_dir(root)
    return moved


def import_data_dir(db_run: Any, root: Path) -> Report | None:
    """Blocking: import a JSON data dir into the database (see the module docstring).

    ``db_run`` is ``Database.run_blocking``.  None if there was nothing to import.
    """
    if not has_json_data(root):
        return None
    # Machines sharing a PostgreSQL may use the same path: the host name tells them apart.
    source = f"{socket.gethostname()}:{root.resolve()}"

    def tx_fn(tx: Tx) -> Report | None:
        if tx.one("SELECT 1 FROM imports WHERE source = ?", (source,)) is not None:
            return None  # committed before; only the renames were missing
        report = _import_rows(tx, read_data_dir(root))
        tx.execute(
            "INSERT INTO imports (source, imported_at, report) VALUES (?, ?, ?)",
            (source, tx.now(), json.dumps(report.as_dict(), ensure_ascii=False)),
        )
        return report

    report: Report | None = db_run(tx_fn)
    moved = _rename_folders(root)
    if report is not None:
        for where, why in report.damaged:
            log.error("import_file_damaged", path=where, reason=why, kept=True)
        log.warning(
            "json_data_imported",
            source=source,
            playlists=report.playlists,
            settings=report.settings,
            sessions=report.sessions,
            damaged=len(report.damaged),
            skipped=len(report.skipped),
            renamed_to=moved,
        )
    return report


# ---------------------------------------------------------------------------- dumps


def _doc(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data  # a damaged row travels as its exact text


def export_rows(tx: Tx) -> dict[str, Any]:
    playlists = [
        {"scope": scope, "scope_id": int(sid), "document": _doc(str(data))}
        for scope, sid, data in tx.all(
            "SELECT scope, scope_id, data FROM playlists ORDER BY scope, scope_id, name_key"
        )
    ]
    settings = [
        {"guild_id": int(gid), "document": _doc(str(data))}
        for gid, data in tx.all("SELECT guild_id, data FROM guild_settings ORDER BY guild_id")
    ]
    sessions = [
        {"guild_id": int(gid), "document": _doc(str(data))}
        for gid, data in tx.all("SELECT guild_id, data FROM sessions ORDER BY guild_id")
    ]
    return _dump(playlists, settings, sessions, tx.now())


def export_data_dir(root: Path) -> dict[str, Any]:
    """A dump of a JSON data dir (the files engine); damaged files are left out (reported)."""
    found = read_data_dir(root)
    for where, why in found.damaged:
        log.error("export_file_damaged", path=where, reason=why)
    playlists = [
        {"scope": s, "scope_id": i, "document": json.loads(PLAYLIST_CODEC.encode(p))}
        for s, i, p, _ in found.playlists
    ]
    settings = [
        {"guild_id": g, "document": json.loads(SETTINGS_CODEC.encode(v))}
        for g, v, _ in found.settings
    ]
    sessions = [
        {"guild_id": g, "document": json.loads(SESSION_CODEC.encode(v))}
        for g, v, _ in found.sessions
    ]
    return _dump(playlists, settings, sessions, time.time())


def _dump(
    playlists: list[dict[str, Any]],
    settings: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    now: float,
) -> dict[str, Any]:
    return {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "exported_at": now,
        "playlists": playlists,
        "guild_settings": settings,
        "sessions": sessions,
    }


def _decode_doc(codec: Codec[Any], doc: Any) -> Any:
    raw = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
    return codec.decode(raw.encode("utf-8"))


def _entries(dump: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = dump.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DumpError(f"{key!r} must be a list of objects")
    return items


def _int(entry: dict[str, Any], key: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DumpError(f"an entry has no valid {key!r}: {value!r}")
    return value


def import_dump(tx: Tx, dump: Any, *, replace: bool = False) -> Report:
    """Load a dump in the caller's transaction (refuses a non-empty database unless replace)."""
    if not isinstance(dump, dict) or dump.get("format") != DUMP_FORMAT:
        raise DumpError('not a musicbot dump (no "format": "musicbot-dump")')
    if dump.get("version") != DUMP_VERSION:
        raise DumpError(f"dump version {dump.get('version')!r}; this release reads {DUMP_VERSION}")
    tables = ("playlists", "guild_settings", "sessions")
    if replace:
        for table in (*tables, "playlist_scopes"):
            tx.execute(f"DELETE FROM {table}")
    else:
        for table in tables:
            row = tx.one(f"SELECT COUNT(*) FROM {table}")
            if row is not None and int(row[0]) > 0:
                raise DumpError(
                    f"the database already holds {table}; use --replace to overwrite it"
                )
    report = Report()
    for entry in _entries(dump, "playlists"):
        scope, scope_id = entry.get("scope"), _int(entry, "scope_id")
        if scope not in ("guild", "user"):
            raise DumpError(f"a playlist entry has scope {scope!r}")
        where = f"dump#playlists/{scope}/{scope_id}"
        try:
            playlist = _decode_doc(PLAYLIST_CODEC, entry.get("document"))
        except DecodeProblem as exc:
            _keep(tx, report, "playlists", where, entry.get("document"), str(exc))
            continue
        if _insert_playlist(tx, scope, scope_id, playlist):
            report.playlists += 1
        else:
            report.skipped.append((f"{where}/{playlist.name}", "duplicate name in the dump"))
    for key, codec, insert, counter in (
        ("guild_settings", SETTINGS_CODEC, _insert_settings, "settings"),
        ("sessions", SESSION_CODEC, _insert_session, "sessions"),
    ):
        for entry in _entries(dump, key):
            guild_id = _int(entry, "guild_id")
            where = f"dump#{key}/{guild_id}"
            try:
                value = _decode_doc(codec, entry.get("document"))
            except DecodeProblem as exc:
                _keep(tx, report, key, where, entry.get("document"), str(exc))
                continue
            if insert(tx, guild_id, value):
                setattr(report, counter, getattr(report, counter) + 1)
            else:
                report.skipped.append((where, "duplicate in the dump"))
    return report


def _keep(tx: Tx, report: Report, source: str, where: str, doc: Any, why: str) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
    quarantine(tx, source, where, text, why)
    report.damaged.append((where, why))
