"""Versioned schema migrations, run at start in one transaction.

``MIGRATIONS[n - 1]`` takes the schema from version ``n - 1`` to ``n``; ``schema_migrations``
records each applied version.  At start :func:`migrate` applies what is missing; a database
whose version is *newer* than this code knows is refused with :class:`SchemaTooNew` and left
untouched (an older release must never write data it does not understand).  Two processes
starting together do not race: PostgreSQL takes an advisory transaction lock first, SQLite's
``BEGIN IMMEDIATE`` holds the write lock; both engines run DDL inside the transaction, so a
failed migration leaves the previous version intact.

The SQL is plain enough for both engines (``BIGINT`` holds a snowflake in either; SQLite
accepts ``DOUBLE PRECISION`` and ``BIGINT`` by affinity).  Documents are stored as the same
versioned JSON envelopes the file store writes (:mod:`musicbot.storage.codec`), so a row is
decoded (and validated) exactly like a file, and a damaged row is reported like a damaged file.
"""

from __future__ import annotations

import secrets
from typing import Final

from musicbot.storage.db import Tx
from musicbot.storage.errors import SchemaTooNew

# An arbitrary, fixed 64-bit key for pg_advisory_xact_lock ("musicbot schema").
MIGRATION_LOCK: Final = 0x6D75_7369_6362_0001

_V1: Final = (
    """CREATE TABLE playlist_scopes (
        scope TEXT NOT NULL CHECK (scope IN ('guild', 'user')),
        scope_id BIGINT NOT NULL,
        PRIMARY KEY (scope, scope_id)
    )""",
    """CREATE TABLE playlists (
        scope TEXT NOT NULL,
        scope_id BIGINT NOT NULL,
        name_key TEXT NOT NULL,
        name TEXT NOT NULL,
        owner_id BIGINT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        track_count INTEGER NOT NULL,
        total_duration DOUBLE PRECISION NOT NULL,
        data TEXT NOT NULL,
        revision BIGINT NOT NULL DEFAULT 1,
        PRIMARY KEY (scope, scope_id, name_key),
        FOREIGN KEY (scope, scope_id) REFERENCES playlist_scopes (scope, scope_id)
            ON DELETE CASCADE
    )""",
    """CREATE TABLE guild_settings (
        guild_id BIGINT PRIMARY KEY,
        data TEXT NOT NULL,
        revision BIGINT NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE sessions (
        guild_id BIGINT PRIMARY KEY,
        data TEXT NOT NULL,
        saved_at DOUBLE PRECISION NOT NULL,
        revision BIGINT NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE quarantine (
        id BIGINT NOT NULL,
        source TEXT NOT NULL,
        item TEXT NOT NULL,
        data TEXT NOT NULL,
        reason TEXT NOT NULL,
        moved_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (id)
    )""",
    """CREATE TABLE identify_buckets (
        bucket INTEGER PRIMARY KEY,
        last_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE imports (
        source TEXT PRIMARY KEY,
        imported_at DOUBLE PRECISION NOT NULL,
        report TEXT NOT NULL
    )""",
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_V1,)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def current_version(tx: Tx) -> int:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
    )
    row = tx.one("SELECT MAX(version) FROM schema_migrations")
    return int(row[0]) if row is not None and row[0] is not None else 0


def migrate(tx: Tx, where: str, known: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Bring the schema to ``known``; (version before, version after)."""
    if tx.dialect == "postgres":
        tx.one("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
    before = current_version(tx)
    if before > known:
        raise SchemaTooNew(where, before, known)
    now = tx.now()
    for version in range(before + 1, known + 1):
        for statement in MIGRATIONS[version - 1]:
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, now)
        )
    return before, known


def quarantine(tx: Tx, source: str, item: str, data: str, reason: str) -> None:
    """Keep an unreadable row's bytes for the operator before it is replaced or deleted."""
    # A random id: processes sharing the database never pick the same one in practice.
    next_id = secrets.randbits(62)
    tx.execute(
        "INSERT INTO quarantine (id, source, item, data, reason, moved_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (next_id, source, item, data, reason, tx.now()),
    )
