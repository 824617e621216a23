"""An acknowledged save survives SIGKILL: a real child process saves in a loop and is killed
at arbitrary moments, on each database engine (the file engine has its own kill test in
test_atomic).  After every kill, everything the child had reported as saved is there, intact,
and the database opens normally.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from musicbot.storage import Storage
from musicbot.storage.db import Database, PostgresDatabase, SqliteDatabase
from musicbot.storage.schema import migrate
from tests.storage.helpers import track
from tests.storage.pg import PgServer

REPO = Path(__file__).resolve().parents[2]
ROUNDS = (3, 9, 17)  # acknowledged saves before each kill
LINE_TIMEOUT = 60.0  # seconds the child may take for one save (an absolute bound)

CHILD = textwrap.dedent(
    """
    import sys, trio
    from pathlib import Path
    from musicbot.storage import Storage
    from musicbot.storage.db import PostgresDatabase, SqliteDatabase
    from tests.storage.helpers import track

    url, start = sys.argv[1], int(sys.argv[2])
    if url.startswith("postgresql://"):
        db = PostgresDatabase(url)
        db.open()
    else:
        db = SqliteDatabase(Path(url))
    storage = Storage(root=Path("."), db=db, max_playlists=10_000, max_playlist_tracks=10_000)

    async def main():
        repo = storage.user_playlists(1)
        i = start
        while True:
            await repo.save(f"P{i}", [track(i)], creator_id=1, overwrite=True)
            await repo.add_tracks("Log", [track(i)])
            print(f"ack {i}", flush=True)
            i += 1

    trio.run(main)
    """
)


def _open(engine: str, target: str) -> Database:
    if engine == "sqlite":
        return SqliteDatabase(Path(target))
    db = PostgresDatabase(target)
    db.open()
    return db


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_acknowledged_saves_survive_sigkill(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "sqlite":
        target = str(tmp_path / "musicbot.sqlite3")
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        target = server.create_schema(f"kill_{os.getpid()}")
    db = _open(engine, target)
    db.run_blocking(lambda tx: migrate(tx, db.where))
    storage = Storage(root=tmp_path, db=db, max_playlists=10_000, max_playlist_tracks=10_000)
    trio.run(functools.partial(storage.user_playlists(1).save, "Log", [], creator_id=1))
    db.close()

    acked: list[int] = []
    for acks in ROUNDS:
        start = acked[-1] + 1 if acked else 0
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, target, str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            for _ in range(acks):
                ready, _w, _x = select.select([proc.stdout], [], [], LINE_TIMEOUT)
                assert ready, "the child stopped answering"
                line = proc.stdout.readline().decode()
                if not line.startswith("ack "):
                    proc.kill()
                    pytest.fail(f"child: {line!r} {proc.communicate()[1].decode()[-2000:]}")
                acked.append(int(line.split()[1]))
            os.kill(proc.pid, signal.SIGKILL)  # somewhere in the middle of the next save
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        # What was acknowledged is there; the database opens and works.
        db = _open(engine, target)
        try:
            repo = Storage(root=tmp_path, db=db).user_playlists(1)
            for i in acked:
                assert trio.run(repo.load, f"P{i}").tracks == (track(i),)
            log = trio.run(repo.load, "Log")
            # Every acknowledged append, in order; at most the one in flight beyond them.
            urls = [t.webpage_url for t in log.tracks]
            assert urls[: len(acked)] == [track(i).webpage_url for i in acked]
            assert len(urls) <= len(acked) + 1
            if len(urls) == len(acked) + 1:
                acked.append(acked[-1] + 1)  # the kill came after COMMIT, before the ack
        finally:
            db.close()
