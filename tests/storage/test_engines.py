"""The repository suite, run against every engine: JSON files, SQLite and a real PostgreSQL.

Only what a caller can see is asserted here (values, errors, limits), so the same test holds
for each engine; the file layout has its own tests (test_playlist_repo, test_atomic).
"""

from __future__ import annotations

import pytest
import trio

from musicbot.models.track import Track
from musicbot.storage import (
    AlreadyExists,
    GuildSettings,
    InvalidName,
    InvalidPosition,
    LimitReached,
    NotFound,
    SessionSnapshot,
    Storage,
)
from tests.storage.conftest import FakeWallClock
from tests.storage.helpers import track

TIMEOUT = 30


def snap(guild_id: int, position: float = 1.0) -> SessionSnapshot:
    return SessionSnapshot(
        guild_id=guild_id,
        voice_channel_id=10,
        text_channel_id=None,
        queue={"entries": [{"title": "Bài 1"}], "current": 0},
        position=position,
        repeat_mode="off",
        volume=100,
        stay_24_7=False,
        saved_at=1_700_000_000.0,
    )


async def test_save_load_list_show_exists(any_storage: Storage, wall: FakeWallClock) -> None:
    with trio.fail_after(TIMEOUT):
        repo = any_storage.guild_playlists(111)
        live = Track(
            title="Live set",
            webpage_url="https://www.twitch.tv/x",
            stream_url="https://expiring.example/stream.m3u8?sig=secret",
            is_live=True,
        )
        saved = await repo.save("Nhạc Trịnh", [track(1), live], creator_id=42)
        assert saved.owner_id == 42 and saved.created_at == saved.updated_at == wall.now
        loaded = await repo.load("nhạc trịnh")
        assert loaded == saved and loaded.name == "Nhạc Trịnh"
        assert loaded.tracks[1].is_live and loaded.tracks[1].to_track().stream_url == ""
        assert await repo.exists("NHẠC TRỊNH") and not await repo.exists("Other")
        await repo.save("Chill", [track(i) for i in range(5)], creator_id=1)
        index = await repo.list()
        assert [(s.name, s.track_count) for s in index.playlists] == [
            ("Chill", 5),
            ("Nhạc Trịnh", 2),
        ]
        assert index.playlists[0].total_duration == 300.0 and index.unreadable == ()
        page = await repo.show("chill", page=2, per_page=2)
        assert [pos for pos, _ in page.items] == [3, 4] and page.pages == 3
        # Scopes are apart: the same name for a user, or another guild, is another playlist.
        assert not await any_storage.user_playlists(111).exists("Chill")
        assert (await any_storage.guild_playlists(112).list()).playlists == ()


async def test_add_remove_rename_delete(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = any_storage.user_playlists(7)
        first = await repo.save("Chill", [track(1)], creator_id=7)
        added = await repo.add_tracks("CHILL", [track(2), track(3)])
        assert added.tracks == (track(1), track(2), track(3))
        assert added.updated_at > first.updated_at and added.created_at == first.created_at
        after, removed = await repo.remove("chill", 2)
        assert removed == track(2) and after.tracks == (track(1), track(3))
        for bad in (0, 3, -1):
            with pytest.raises(InvalidPosition):
                await repo.remove("chill", bad)
        renamed = await repo.rename("chill", "Night Drive")
        assert renamed.name == "Night Drive" and not await repo.exists("Chill")
        recased = await repo.rename("night drive", "NIGHT drive")
        assert [s.name for s in (await repo.list()).playlists] == [recased.name]
        deleted = await repo.delete("Night Drive")
        assert deleted is not None and deleted.tracks == (track(1), track(3))
        assert (await repo.list()).playlists == ()
        for op in (
            repo.load("Night Drive"),
            repo.delete("Night Drive"),
            repo.add_tracks("Night Drive", [track(1)]),
            repo.rename("Night Drive", "x"),
            repo.remove("Night Drive", 1),
        ):
            with pytest.raises(NotFound):
                await op


async def test_duplicates_and_overwrite(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = any_storage.guild_playlists(5)
        await repo.save("Chill", [track(1)], creator_id=1)
        with pytest.raises(AlreadyExists) as info:
            await repo.save("chill", [track(2)], creator_id=2)
        assert info.value.existing == "Chill"
        await repo.save("Other", [], creator_id=1)
        with pytest.raises(AlreadyExists):
            await repo.rename("Other", "CHILL")
        assert (await repo.load("Chill")).tracks == (track(1),)
        replaced = await repo.save("chill", [track(7)], creator_id=2, overwrite=True)
        assert replaced.tracks == (track(7),) and replaced.owner_id == 1
        assert (await repo.load("CHILL")) == replaced


async def test_bad_names_are_refused(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = any_storage.guild_playlists(5)
        await repo.save("Chill", [track(1)], creator_id=1)
        for name in ("../x", "..", "CON", "nul.txt", ".hidden", "x" * 300, "a/b"):
            with pytest.raises(InvalidName):
                await repo.save(name, [track(1)], creator_id=1)
            with pytest.raises(InvalidName):
                await repo.load(name)
            with pytest.raises(InvalidName):
                await repo.rename("Chill", name)
        assert [s.name for s in (await repo.list()).playlists] == ["Chill"]


async def test_limits_all_or_nothing(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = any_storage.guild_playlists(9)
        with pytest.raises(LimitReached) as info:
            await repo.save("Big", [track(i) for i in range(7)], creator_id=1)
        assert info.value.what == "tracks" and info.value.limit == 6
        await repo.save("Big", [track(i) for i in range(4)], creator_id=1)
        with pytest.raises(LimitReached):
            await repo.add_tracks("Big", [track(10), track(11), track(12)])
        assert len((await repo.load("Big")).tracks) == 4
        for i in range(3):
            await repo.save(f"P{i}", [], creator_id=1)
        with pytest.raises(LimitReached) as info:
            await repo.save("One too many", [], creator_id=1)
        assert info.value.what == "playlists" and info.value.limit == 4
        assert len((await repo.list()).playlists) == 4
        await repo.save("P0", [track(1)], creator_id=1, overwrite=True)  # not a new one
        await repo.rename("P1", "Renamed")


async def test_settings_and_sessions(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        store = any_storage.guild_settings(77)
        assert await store.load() == GuildSettings()
        wanted = GuildSettings(dj_role_id=123, stay_24_7=True, default_volume=150, language="vi")
        await store.save(wanted)
        assert await any_storage.guild_settings(77).load() == wanted
        assert await any_storage.guild_settings(78).load() == GuildSettings()

        sessions = any_storage.sessions()
        assert (await sessions.load_all()).snapshots == ()
        await sessions.delete(1)  # nothing saved yet: fine
        await sessions.save(snap(1))
        await sessions.save(snap(2))
        await sessions.save(snap(2, position=99.0))
        restored = await sessions.load_all()
        assert {s.guild_id: s for s in restored.snapshots} == {1: snap(1), 2: snap(2, 99.0)}
        assert await sessions.load(2) == snap(2, 99.0)
        await sessions.delete(1)
        assert [s.guild_id for s in (await sessions.load_all()).snapshots] == [2]
        assert await sessions.load(1) is None
