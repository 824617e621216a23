"""Moving to a database: the first-start import of a JSON data dir, and export/import dumps.

The data dir is made by this release's file engine (the format every earlier release wrote),
then damaged the way disks and hands damage files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from musicbot import config
from musicbot.__main__ import main
from musicbot.storage import GuildSettings, Storage, open_storage
from musicbot.storage.transfer import IMPORTED_SUFFIX
from tests.storage.helpers import track, tree
from tests.storage.pg import PgServer
from tests.storage.test_engines import snap

TIMEOUT = 60


async def make_release_data_dir(root: Path) -> None:
    old = Storage(root=root)  # the JSON file engine
    await old.guild_playlists(10).save("Chill", [track(1), track(2)], creator_id=7)
    await old.guild_playlists(10).save("Nhạc Trịnh", [track(3)], creator_id=8)
    await old.guild_settings(10).save(GuildSettings(dj_role_id=5, language="vi"))
    await old.user_playlists(20).save("Mine", [track(4)], creator_id=20)
    await old.sessions().save(snap(10, 42.0))
    # Damage: a playlist and a snapshot with no backup (reported, kept); settings whose
    # current file is torn but whose backup is good (imported from the backup).
    await old.guild_playlists(11).save("Broken", [track(5)], creator_id=1)
    broken = old.guild_playlists(11).path_for("Broken")
    broken.write_bytes(b'{"schema_version": 1, "kind": "playl')
    await old.guild_settings(11).save(GuildSettings(default_volume=30))
    await old.guild_settings(11).save(GuildSettings(default_volume=60))
    old.guild_settings(11).path.write_bytes(b"\x00\x00")
    await old.sessions().save(snap(11))
    old.sessions().path_for(11).write_text("{}")


def cfg_for(root: Path, url: str) -> config.Config:
    path = root.parent / f"config-{abs(hash(url))}.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{root}"\nurl = "{url}"\n[log]\nlevel = "warning"\n',
        encoding="utf-8",
    )
    cfg, _ = config.load(path)
    return cfg


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        yield server.create_schema(f"import_{abs(hash(request.node.name)) % 10**8}")


async def test_first_start_imports_a_release_data_dir_once(tmp_path: Path, url: str) -> None:
    root = tmp_path / "data"
    with trio.fail_after(TIMEOUT):
        await make_release_data_dir(root)
        before = tree(root)
        cfg = cfg_for(root, url)
        with capture_logs() as logs:
            async with open_storage(cfg) as storage:
                assert storage.engine == ("sqlite" if url == "" else "postgres")
                chill = await storage.guild_playlists(10).load("chill")
                assert chill.tracks == (track(1), track(2)) and chill.owner_id == 7
                assert (await storage.guild_playlists(10).load("NHẠC TRỊNH")).tracks == (track(3),)
                assert (await storage.user_playlists(20).load("Mine")).tracks == (track(4),)
                assert await storage.guild_settings(10).load() == GuildSettings(
                    dj_role_id=5, language="vi"
                )
                # Torn settings.json, good backup: the backup's value.
                assert await storage.guild_settings(11).load() == GuildSettings(default_volume=30)
                restored = await storage.sessions().load_all()
                assert [s.guild_id for s in restored.snapshots] == [10]
                assert restored.snapshots[0].position == 42.0
                assert not await storage.guild_playlists(11).exists("Broken")
        [done] = [e for e in logs if e["event"] == "json_data_imported"]
        assert (done["playlists"], done["settings"], done["sessions"]) == (3, 2, 1)
        damaged = {e["path"] for e in logs if e["event"] == "import_file_damaged"}
        broken = Storage(root=root).guild_playlists(11).path_for("Broken")
        assert damaged == {str(broken), str(root / "sessions" / "11.json")}
        # Every file is still there, byte for byte, under the renamed folders.
        renamed = {
            k.replace("guilds/", "guilds.imported/", 1)
            .replace("users/", "users.imported/", 1)
            .replace("sessions/", "sessions.imported/", 1): v
            for k, v in before.items()
        }
        after = {k: v for k, v in tree(root).items() if not k.startswith("musicbot.sqlite3")}
        assert after == renamed
        assert not (root / "guilds").exists()

        # A crash between COMMIT and the renames: the next start only renames (no re-import).
        for name in ("guilds", "users", "sessions"):
            (root / f"{name}{IMPORTED_SUFFIX}").rename(root / name)
        with capture_logs() as logs:
            async with open_storage(cfg) as storage:
                assert len((await storage.guild_playlists(10).list()).playlists) == 2
        assert not [e for e in logs if e["event"] == "json_data_imported"]
        assert (root / "guilds.imported").is_dir() and not (root / "guilds").exists()

        # Rolling back is a rename: the file engine still reads the old data.
        (root / "guilds.imported").rename(root / "guilds")
        async with open_storage(cfg_for(root, "files")) as storage:
            assert storage.engine == "files"
            assert (await storage.guild_playlists(10).load("Chill")).owner_id == 7


async def test_export_then_import_into_another_engine(tmp_path: Path, pg_server: PgServer) -> None:
    root = tmp_path / "data"
    with trio.fail_after(TIMEOUT):
        await make_release_data_dir(root)
        sqlite_cfg = root.parent / "sqlite.toml"
        sqlite_cfg.write_text(f'[storage]\ndata_dir = "{root}"\n', encoding="utf-8")
        async with open_storage(cfg_for(root, "")) as storage:  # imports the JSON dir
            await storage.user_playlists(20).add_tracks("Mine", [track(9)])
        dump_path = tmp_path / "dump.json"
        assert main(["export", "--config", str(sqlite_cfg), "-o", str(dump_path)]) == 0
        dump = json.loads(dump_path.read_text(encoding="utf-8"))
        assert dump["format"] == "musicbot-dump" and len(dump["playlists"]) == 3

        pg_url = pg_server.create_schema("moved")
        pg_cfg = root.parent / "pg.toml"
        pg_cfg.write_text(
            f'[storage]\ndata_dir = "{tmp_path / "other"}"\nurl = "{pg_url}"\n',
            encoding="utf-8",
        )
        assert main(["import", "--config", str(pg_cfg), str(dump_path)]) == 0
        assert main(["import", "--config", str(pg_cfg), str(dump_path)]) == 2  # not empty
        cfg, _ = config.load(pg_cfg)
        async with open_storage(cfg) as moved:
            mine = await moved.user_playlists(20).load("Mine")
            assert mine.tracks == (track(4), track(9))
            assert await moved.guild_settings(10).load() == GuildSettings(
                dj_role_id=5, language="vi"
            )
            assert [s.guild_id for s in (await moved.sessions().load_all()).snapshots] == [10]

        # A damaged document in a dump is reported and kept; the rest goes in.
        dump["playlists"][0]["document"]["data"]["tracks"] = "not a list"
        dump_path.write_text(json.dumps(dump), encoding="utf-8")
        assert main(["import", "--config", str(pg_cfg), "--replace", str(dump_path)]) == 0
        async with open_storage(cfg) as moved:
            assert len((await moved.guild_playlists(10).list()).playlists) == 1
            assert moved.db is not None
            kept = moved.db.run_blocking(lambda tx: tx.all("SELECT source FROM quarantine"))
            assert kept == [("playlists",)]
        dump_path.write_text('{"format": "something else"}', encoding="utf-8")
        assert main(["import", "--config", str(pg_cfg), str(dump_path)]) == 2
