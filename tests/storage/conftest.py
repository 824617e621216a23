from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from musicbot.storage import Storage
from musicbot.storage.db import Database, PostgresDatabase, SqliteDatabase
from musicbot.storage.schema import migrate
from tests.storage.pg import PgServer, running_server


class FakeWallClock:
    """Deterministic UNIX time for created/updated stamps."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def wall() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
def storage(tmp_path: Path, wall: FakeWallClock) -> Storage:
    return Storage(root=tmp_path / "data", max_playlists=4, max_playlist_tracks=6, clock=wall)


# ---------------------------------------------------------------- database engines

ENGINES = ("files", "sqlite", "postgres")
_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL for the whole run (each test gets its own database)."""
    with running_server() as server:
        yield server


def open_database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if engine == "sqlite":
        db: Database = SqliteDatabase(tmp_path / "data" / "musicbot.sqlite3")
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.create_schema(f"t{next(_db_names)}_{os.getpid()}")
        db = PostgresDatabase(url)
        db.open()
    db.run_blocking(lambda tx: migrate(tx, db.where))
    return db


@pytest.fixture(params=ENGINES)
def any_storage(
    request: pytest.FixtureRequest, tmp_path: Path, wall: FakeWallClock
) -> Iterator[Storage]:
    """The same small-limits Storage on each engine: JSON files, SQLite, PostgreSQL."""
    base = Storage(root=tmp_path / "data", max_playlists=4, max_playlist_tracks=6, clock=wall)
    if request.param == "files":
        yield base
        return
    db = open_database(request.param, tmp_path, request)
    try:
        yield attrs.evolve(base, db=db)
    finally:
        db.close()


@pytest.fixture(params=("sqlite", "postgres"))
def db_storage(
    request: pytest.FixtureRequest, tmp_path: Path, wall: FakeWallClock
) -> Iterator[Storage]:
    """As ``any_storage``, database engines only."""
    db = open_database(request.param, tmp_path, request)
    try:
        yield Storage(
            root=tmp_path / "data", max_playlists=4, max_playlist_tracks=6, clock=wall, db=db
        )
    finally:
        db.close()
