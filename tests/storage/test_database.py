"""What the database engines guarantee beyond the shared suite (SQLite and a real PostgreSQL).

"Two processes" are two :class:`Database` objects on the same database: separate connections
(pools), exactly what two bot processes have; the database server (or SQLite's file locks) is
what must keep them apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio
from structlog.testing import capture_logs

from musicbot.storage import (
    Conflict,
    CorruptFile,
    DatabaseUnavailable,
    DiskFull,
    GuildSettings,
    LimitReached,
    SchemaTooNew,
    Storage,
)
from musicbot.storage.db import Database, PostgresDatabase, SqliteDatabase, redact_url
from musicbot.storage.schema import SCHEMA_VERSION, migrate
from tests.storage.helpers import track
from tests.storage.pg import PgServer

TIMEOUT = 60


def second_process(storage: Storage) -> Iterator[Storage]:
    """Another 'process' on the same database (its own connections)."""
    db = storage.db
    assert db is not None
    other: Database
    if isinstance(db, SqliteDatabase):
        other = SqliteDatabase(db.path)
    else:
        assert isinstance(db, PostgresDatabase)
        other = PostgresDatabase(db.url)
        other.open()
    try:
        yield attrs.evolve(storage, db=other)
    finally:
        other.close()


@pytest.fixture
def other(db_storage: Storage) -> Iterator[Storage]:
    yield from second_process(db_storage)


def _sql(storage: Storage, sql: str, params: tuple[object, ...] = ()) -> None:
    assert storage.db is not None
    storage.db.run_blocking(lambda tx: tx.execute(sql, params))


async def test_two_processes_racing_cannot_exceed_the_playlist_limit(
    db_storage: Storage, other: Storage
) -> None:
    """Eight saves at once from two processes into one scope whose limit is four."""
    outcomes: list[str] = []

    async def save(storage: Storage, i: int) -> None:
        try:
            await storage.user_playlists(5).save(f"P{i}", [track(i)], creator_id=5)
            outcomes.append("saved")
        except LimitReached:
            outcomes.append("refused")

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(save, db_storage if i % 2 else other, i)
    assert sorted(outcomes) == ["refused"] * 4 + ["saved"] * 4
    assert len((await db_storage.user_playlists(5).list()).playlists) == 4


async def test_two_processes_appending_lose_no_track_and_respect_the_track_limit(
    db_storage: Storage, other: Storage
) -> None:
    with trio.fail_after(TIMEOUT):
        await db_storage.user_playlists(6).save("Mix", [], creator_id=6)
        outcomes: list[str] = []

        async def add(storage: Storage, i: int) -> None:
            try:
                await storage.user_playlists(6).add_tracks("Mix", [track(i)])
                outcomes.append("added")
            except LimitReached:
                outcomes.append("refused")

        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(add, db_storage if i % 2 else other, i)
        stored = await db_storage.user_playlists(6).load("Mix")
        assert sorted(outcomes) == ["added"] * 6 + ["refused"] * 4
        assert len(stored.tracks) == 6 == len(set(stored.tracks))  # none lost, none twice


async def test_a_stale_settings_save_from_another_process_is_refused(
    db_storage: Storage, other: Storage
) -> None:
    with trio.fail_after(TIMEOUT):
        a, b = db_storage.guild_settings(40), other.guild_settings(40)
        assert await a.load() == GuildSettings() == await b.load()
        await b.save(GuildSettings(dj_role_id=99))  # process B changes the DJ role
        with pytest.raises(Conflict) as info:
            await a.save(GuildSettings(language="vi"))  # A still holds the old settings
        assert "another instance" in info.value.user_message("en")
        assert info.value.user_message("vi") != info.value.user_message("en")
        assert await other.guild_settings(40).load() == GuildSettings(dj_role_id=99)
        # A save made after being told goes through (it is a decision, not a lost update).
        await a.save(GuildSettings(language="vi", dj_role_id=99))
        assert await b.load() == GuildSettings(language="vi", dj_role_id=99)
        await b.save(GuildSettings(language="en"))  # B saw the latest: no conflict


async def test_damaged_rows_are_reported_not_fatal(db_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = db_storage.guild_playlists(3)
        await repo.save("Good", [track(1)], creator_id=1)
        await repo.save("Broken", [track(2)], creator_id=1)
        _sql(db_storage, "UPDATE playlists SET data = ? WHERE name = ?", ("{half", "Broken"))
        index = await repo.list()
        assert [s.name for s in index.playlists] == ["Good"]
        assert [("Broken" in str(e), "JSON" in e.reason) for e in index.unreadable] == [
            (True, True)
        ]
        with pytest.raises(CorruptFile) as info:
            await repo.load("broken")
        assert "damaged" in info.value.user_message("en")
        with pytest.raises(CorruptFile):
            await repo.add_tracks("Broken", [track(3)])  # never overwritten while unreadable
        assert await repo.delete("Broken") is None  # moved to quarantine, name free again
        await repo.save("Broken", [track(4)], creator_id=1)
        assert db_storage.db is not None
        kept = db_storage.db.run_blocking(
            lambda tx: tx.all("SELECT source, data FROM quarantine"), False
        )
        assert kept == [("playlists", "{half")]

        # Damaged settings: defaults, reported, kept; damaged snapshot: skipped, kept.
        await db_storage.guild_settings(3).save(GuildSettings(default_volume=10))
        _sql(db_storage, "UPDATE guild_settings SET data = '[]'")
        with capture_logs() as logs:
            assert await db_storage.guild_settings(3).load() == GuildSettings()
        assert any(e["event"] == "guild_settings_unreadable" for e in logs)
        await db_storage.guild_settings(3).save(GuildSettings(language="vi"))
        sessions = db_storage.sessions()
        from tests.storage.test_engines import snap

        await sessions.save(snap(1))
        await sessions.save(snap(2))
        _sql(db_storage, "UPDATE sessions SET data = 'x' WHERE guild_id = 2")
        restored = await sessions.load_all()
        assert [s.guild_id for s in restored.snapshots] == [1]
        assert [("sessions/2" in str(e)) for e in restored.unreadable] == [True]
        await sessions.save(snap(2, 5.0))  # saving goes on
        assert await sessions.load(2) == snap(2, 5.0)
        sources = db_storage.db.run_blocking(
            lambda tx: tx.all("SELECT source FROM quarantine ORDER BY source"), False
        )
        assert sources == [("guild_settings",), ("playlists",), ("sessions",)]


async def test_a_newer_schema_is_refused_and_left_alone(db_storage: Storage) -> None:
    db = db_storage.db
    assert db is not None
    assert db.run_blocking(lambda tx: migrate(tx, db.where)) == (SCHEMA_VERSION, SCHEMA_VERSION)
    _sql(
        db_storage,
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)",
        (SCHEMA_VERSION + 1,),
    )
    with pytest.raises(SchemaTooNew) as info:
        db.run_blocking(lambda tx: migrate(tx, db.where))
    text = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in text and "newer musicbot" in text
    assert "nothing was changed" in text


async def test_identify_slots_are_spaced_across_processes(
    db_storage: Storage, other: Storage
) -> None:
    """Two processes, three shards each, all in bucket 0: the database hands out one slot
    per window, and the slots it recorded (by its own clock) are a window apart."""
    window = 0.3
    coordinators = []
    for storage in (db_storage, other) * 3:
        coordinator = storage.identify_coordinator()
        assert coordinator is not None
        coordinators.append(coordinator)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for coordinator in coordinators:
                nursery.start_soon(coordinator.wait_turn, 0, window)
    grants = [at for c in coordinators for _, at in c.taken]
    grants.sort()
    assert len(set(grants)) == 6
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert min(gaps) >= window, gaps


async def test_sqlite_full_database_refuses_keeps_data_and_recovers(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (max_page_count reached)."""
    path = tmp_path / "musicbot.sqlite3"
    db = SqliteDatabase(path)
    db.run_blocking(lambda tx: migrate(tx, db.where))
    storage = Storage(root=tmp_path, db=db, max_playlist_tracks=2000)
    with trio.fail_after(TIMEOUT):
        repo = storage.guild_playlists(1)
        await repo.save("Kept", [track(1)], creator_id=1)
        pages = db.run_blocking(lambda tx: tx.one("PRAGMA page_count"))
        assert pages is not None
        db.close()
        full = SqliteDatabase(path, pragmas=[f"max_page_count = {int(pages[0]) + 1}"])
        storage = attrs.evolve(storage, db=full)
        repo = storage.guild_playlists(1)
        big = [track(i) for i in range(1500)]
        with pytest.raises(DiskFull) as info:
            await repo.save("Big", big, creator_id=1)
        assert "disk is full" in info.value.user_message("en")
        assert (await repo.load("Kept")).tracks == (track(1),)
        assert not await repo.exists("Big")
        full.close()
        roomy = SqliteDatabase(path)  # space freed: the same save goes through
        try:
            storage = attrs.evolve(storage, db=roomy)
            await storage.guild_playlists(1).save("Big", big, creator_id=1)
            assert len((await storage.guild_playlists(1).load("Big")).tracks) == 1500
        finally:
            roomy.close()


async def test_postgres_lost_connection_is_retried_and_a_stopped_server_is_explained(
    pg_server: PgServer,
) -> None:
    url = pg_server.create_schema("lost_connection")
    db = PostgresDatabase(url, connect_timeout=2.0)
    db.open()
    try:
        db.run_blocking(lambda tx: migrate(tx, db.where))
        storage = Storage(root=Path("/nonexistent"), db=db)
        repo = storage.user_playlists(8)
        with trio.fail_after(TIMEOUT):
            await repo.save("Before", [track(1)], creator_id=8)
            # Every connection of the pool is cut (a failover, a restart): the next command
            # still works (broken connections are replaced, the transaction re-run).
            assert pg_server.terminate_backends("postgres") >= 1
            await repo.add_tracks("Before", [track(2)])
            assert (await repo.load("Before")).tracks == (track(1), track(2))

            pg_server.stop()
            try:
                with pytest.raises(DatabaseUnavailable) as info:
                    await repo.add_tracks("Before", [track(3)])
                assert "try again" in info.value.user_message("en")
                assert not info.value.maybe_saved
                # A shard due to IDENTIFY waits for the database instead of failing.
                coordinator = storage.identify_coordinator()
                assert coordinator is not None
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(coordinator.wait_turn, 5, 0.1)
                    while coordinator.failures == 0:  # its first attempt found no database
                        await trio.sleep(0.05)
                    await trio.to_thread.run_sync(pg_server.start)
                assert [b for b, _ in coordinator.taken] == [5]
            finally:
                if pg_server.proc is None:
                    pg_server.start()
            # Back: the previous data is there, unchanged, and writes work again.
            assert (await repo.load("Before")).tracks == (track(1), track(2))
            await repo.add_tracks("Before", [track(3)])
            assert len((await repo.load("Before")).tracks) == 3
    finally:
        db.close()


def test_urls_never_show_the_password() -> None:
    assert redact_url("postgresql://bot:s3cret@db:5432/music") == (
        "postgresql://bot:***@db:5432/music"
    )
    assert redact_url("postgresql://db/music") == "postgresql://db/music"
