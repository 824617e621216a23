from __future__ import annotations

from pathlib import Path

import pytest
import trio

from musicbot.config import build
from musicbot.models.track import Track
from musicbot.storage import (
    AlreadyExists,
    InvalidName,
    InvalidPosition,
    LimitReached,
    NotFound,
    PlaylistRepository,
    Storage,
    files,
    paginate,
)
from tests.storage.conftest import FakeWallClock
from tests.storage.helpers import track, tree

TIMEOUT = 10


@pytest.fixture(params=["guild", "user"])
def repo(request: pytest.FixtureRequest, storage: Storage) -> PlaylistRepository:
    if request.param == "guild":
        return storage.guild_playlists(111)
    return storage.user_playlists(222)


def test_scopes_live_in_their_own_folders(storage: Storage) -> None:
    assert storage.guild_playlists(111).path_for("Chill").parent == (
        storage.root / "guilds" / "111" / "playlists"
    )
    assert storage.user_playlists(222).path_for("Chill").parent == (
        storage.root / "users" / "222" / "playlists"
    )
    with pytest.raises(ValueError):
        storage.guild_playlists(-1)


async def test_save_load_list_show(repo: PlaylistRepository, wall: FakeWallClock) -> None:
    with trio.fail_after(TIMEOUT):
        real = Track(
            title="Live set",
            webpage_url="https://www.twitch.tv/x",
            stream_url="https://expiring.example/stream.m3u8?sig=secret",
            http_headers={"Cookie": "x"},
            is_live=True,
            requester_id=5,
        )
        saved = await repo.save("Nhạc Trịnh", [track(1), real], creator_id=42)
        assert saved.owner_id == 42 and saved.created_at == saved.updated_at == wall.now
        loaded = await repo.load("nhạc trịnh")
        assert loaded == saved
        assert loaded.name == "Nhạc Trịnh"
        assert loaded.tracks[1].is_live and loaded.tracks[1].to_track().stream_url == ""
        # Stream URLs and headers expire and are never written to disk.
        raw = repo.path_for("Nhạc Trịnh").read_text(encoding="utf-8")
        assert "expiring" not in raw and "Cookie" not in raw and "Nhạc Trịnh" in raw
        assert await repo.exists("NHẠC TRỊNH") and not await repo.exists("Other")

        await repo.save("Chill", [track(i) for i in range(5)], creator_id=1)
        index = await repo.list()
        assert [(s.name, s.track_count) for s in index.playlists] == [
            ("Chill", 5),
            ("Nhạc Trịnh", 2),
        ]
        assert index.playlists[0].total_duration == 300.0 and index.unreadable == ()

        page = await repo.show("chill", page=2, per_page=2)
        assert [pos for pos, _ in page.items] == [3, 4]
        assert (page.page, page.pages, page.total) == (2, 3, 5)
        last = await repo.show("chill", page=99, per_page=2)
        assert last.page == 3 and [pos for pos, _ in last.items] == [5]


async def test_add_remove_rename_delete(repo: PlaylistRepository) -> None:
    with trio.fail_after(TIMEOUT):
        first = await repo.save("Chill", [track(1)], creator_id=9)
        added = await repo.add_tracks("CHILL", [track(2), track(3)])
        assert [t.webpage_url for t in added.tracks] == [
            track(1).webpage_url,
            track(2).webpage_url,
            track(3).webpage_url,
        ]
        assert added.updated_at > first.updated_at and added.created_at == first.created_at

        after, removed = await repo.remove("chill", 2)
        assert removed == track(2) and after.tracks == (track(1), track(3))
        for bad in (0, 3, -1):
            with pytest.raises(InvalidPosition):
                await repo.remove("chill", bad)

        renamed = await repo.rename("chill", "Night Drive")
        assert renamed.name == "Night Drive" and renamed.tracks == (track(1), track(3))
        assert not await repo.exists("Chill")
        assert not repo.path_for("Chill").exists()
        assert not files.backup_path(repo.path_for("Chill")).exists()
        assert (await repo.load("night drive")).owner_id == 9

        recased = await repo.rename("night drive", "NIGHT drive")
        assert recased.name == "NIGHT drive"
        assert [s.name for s in (await repo.list()).playlists] == ["NIGHT drive"]

        deleted = await repo.delete("Night Drive")
        assert deleted is not None and deleted.name == "NIGHT drive"
        assert (await repo.list()).playlists == ()
        assert list(repo.directory.iterdir()) == []
        with pytest.raises(NotFound) as info:
            await repo.load("Night Drive")
        assert "Night Drive" in info.value.user_message("vi")
        for op in (
            repo.delete("Night Drive"),
            repo.add_tracks("Night Drive", [track(1)]),
            repo.rename("Night Drive", "x"),
            repo.remove("Night Drive", 1),
        ):
            with pytest.raises(NotFound):
                await op


async def test_duplicates_are_refused_case_insensitively(repo: PlaylistRepository) -> None:
    with trio.fail_after(TIMEOUT):
        await repo.save("Chill", [track(1)], creator_id=1)
        with pytest.raises(AlreadyExists) as info:
            await repo.save("chill", [track(2)], creator_id=2)
        assert info.value.existing == "Chill"
        assert "Chill" in info.value.user_message("en")
        await repo.save("Other", [], creator_id=1)
        with pytest.raises(AlreadyExists):
            await repo.rename("Other", "CHILL")
        assert (await repo.load("Chill")).tracks == (track(1),)

        replaced = await repo.save("chill", [track(7)], creator_id=2, overwrite=True)
        assert replaced.tracks == (track(7),)
        assert replaced.owner_id == 1  # the creator stays the creator
        assert replaced.name == "chill"


async def test_bad_names_are_refused_before_any_file_is_touched(
    repo: PlaylistRepository, storage: Storage
) -> None:
    with trio.fail_after(TIMEOUT):
        await repo.save("Chill", [track(1)], creator_id=1)
        before = tree(storage.root)
        for name in ("../x", "..", "../../etc/passwd", "CON", "nul.txt", ".hidden", "x" * 300):
            with pytest.raises(InvalidName):
                await repo.save(name, [track(1)], creator_id=1)
            with pytest.raises(InvalidName):
                await repo.load(name)
            with pytest.raises(InvalidName):
                await repo.rename("Chill", name)
        assert tree(storage.root) == before
        assert not (storage.root / "x.json").exists()


async def test_caps(repo: PlaylistRepository, storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        with pytest.raises(LimitReached) as info:
            await repo.save("Big", [track(i) for i in range(7)], creator_id=1)
        assert info.value.what == "tracks" and info.value.limit == 6
        await repo.save("Big", [track(i) for i in range(4)], creator_id=1)
        with pytest.raises(LimitReached):
            await repo.add_tracks("Big", [track(10), track(11), track(12)])
        assert len((await repo.load("Big")).tracks) == 4  # all or nothing
        await repo.add_tracks("Big", [track(10), track(11)])

        for i in range(3):
            await repo.save(f"P{i}", [], creator_id=1)
        before = tree(storage.root)
        with pytest.raises(LimitReached) as info:
            await repo.save("One too many", [], creator_id=1)
        assert info.value.what == "playlists" and info.value.limit == 4
        assert "4" in info.value.user_message("vi")
        assert tree(storage.root) == before
        # Overwriting or renaming an existing one is not a new playlist.
        await repo.save("P0", [track(1)], creator_id=1, overwrite=True)
        await repo.rename("P1", "Renamed")


async def test_delete_of_an_unreadable_playlist_keeps_its_bytes(repo: PlaylistRepository) -> None:
    with trio.fail_after(TIMEOUT):
        await repo.save("Broken", [track(1)], creator_id=1)
        path = repo.path_for("Broken")
        path.write_bytes(b"{ not json")
        assert await repo.delete("Broken") is None
        assert not path.exists()
        kept = list(repo.directory.glob(path.name + ".corrupt-*"))
        assert [p.read_bytes() for p in kept] == [b"{ not json"]
        await repo.save("Broken", [track(2)], creator_id=1)  # the name is free again
        assert (await repo.load("Broken")).tracks == (track(2),)


def test_paginate_empty_playlist() -> None:
    from musicbot.storage import Playlist

    page = paginate(Playlist(name="e", owner_id=1, created_at=0, updated_at=0))
    assert (page.page, page.pages, page.total, page.items) == (1, 1, 0, ())
    with pytest.raises(ValueError):
        paginate(Playlist(name="e", owner_id=1, created_at=0, updated_at=0), per_page=0)


def test_storage_from_config(tmp_path: Path) -> None:
    cfg = build(
        {
            "storage": {"data_dir": str(tmp_path / "d")},
            "limits": {"max_playlists_per_scope": 3, "max_playlist_tracks": 9},
        },
        environ={},
    )
    s = Storage.from_config(cfg)
    repo = s.user_playlists(5)
    assert (repo.max_playlists, repo.max_tracks) == (3, 9)
    assert repo.directory == tmp_path / "d" / "users" / "5" / "playlists"
    from musicbot.errors import ConfigError

    with pytest.raises(ConfigError, match="max_playlist_tracks"):
        build({"limits": {"max_playlist_tracks": 0}}, environ={})
