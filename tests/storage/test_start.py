"""What an operator sees when the storage refuses a start (real ``python -m musicbot run``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from musicbot.storage.db import SqliteDatabase
from musicbot.storage.schema import SCHEMA_VERSION, migrate

REPO = Path(__file__).resolve().parents[2]


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICBOT_")}
    env["DISCORD_TOKEN"] = "not-a-real-token.storage-test"
    return subprocess.run(
        [sys.executable, "-m", "musicbot", "run", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    db = SqliteDatabase(data / "musicbot.sqlite3")
    db.run_blocking(lambda tx: migrate(tx, db.where))
    db.close()
    with sqlite3.connect(data / "musicbot.sqlite3") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    before = _dump(data / "musicbot.sqlite3")
    config = tmp_path / "config.toml"
    # The REST base points at a closed port: storage is opened (and refused) before anything
    # talks to Discord.
    config.write_text(
        f'[discord]\napi_base = "http://127.0.0.1:9/api/v10"\n[storage]\ndata_dir = "{data}"\n',
        encoding="utf-8",
    )
    proc = _run(config)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"schema version {SCHEMA_VERSION + 1}" in proc.stderr
    assert "newer musicbot" in proc.stderr and "nothing was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _dump(data / "musicbot.sqlite3") == before


def test_an_unreachable_postgres_is_refused_without_leaking_the_password(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    url = "postgresql://musicbot:Sup3rSecret@127.0.0.1:9/musicbot"
    config.write_text(
        f'[discord]\napi_base = "http://127.0.0.1:9/api/v10"\n'
        f'[storage]\ndata_dir = "{tmp_path}"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    proc = _run(config)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "database postgresql://musicbot:***@127.0.0.1:9/musicbot unavailable" in proc.stderr
    assert "Sup3rSecret" not in proc.stderr + proc.stdout
