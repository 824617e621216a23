"""The personal-playlist actor: the only writer of users' playlist folders."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import trio

from actors.playlists import PersonalPlaylistsHandle, PlaylistsMsg, start
from musicbot.errors import ActorDeadError
from musicbot.storage import (
    AlreadyExists,
    DiskFull,
    InvalidName,
    InvalidPosition,
    NotFound,
    Storage,
    StoredTrack,
    files,
)

TIMEOUT = 10


def track(n: int) -> StoredTrack:
    return StoredTrack(title=f"Track {n}", webpage_url=f"https://youtu.be/v{n:09d}", duration=30.0)


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(root=tmp_path / "data", max_playlists=5, max_playlist_tracks=100)


async def test_personal_playlist_round_trip(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            pl = await start(nursery, storage)
            saved = await pl.save(10, "Yêu thích", [track(1), track(2)])
            assert saved.owner_id == 10
            assert (await pl.load(10, "yêu thích")).tracks == (track(1), track(2))
            assert await pl.exists(10, "YÊU THÍCH")
            assert not await pl.exists(11, "Yêu thích")  # another user's folder
            await pl.add_tracks(10, "Yêu thích", [track(3)])
            page = await pl.show(10, "Yêu thích", page=2, per_page=2)
            assert [pos for pos, _ in page.items] == [3]
            _, removed = await pl.remove(10, "Yêu thích", 1)
            assert removed == track(1)
            await pl.rename(10, "Yêu thích", "Road trip")
            index = await pl.list(10)
            assert [(s.name, s.track_count) for s in index.playlists] == [("Road trip", 2)]
            assert (storage.root / "users" / "10" / "playlists").is_dir()
            deleted = await pl.delete(10, "road trip")
            assert deleted is not None and deleted.name == "Road trip"
            assert (await pl.list(10)).playlists == ()
            nursery.cancel_scope.cancel()


async def test_errors_reach_the_caller_and_the_actor_keeps_serving(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            pl = await start(nursery, storage)
            await pl.save(1, "Chill", [track(1)])
            with pytest.raises(AlreadyExists):
                await pl.save(1, "chill", [])
            with pytest.raises(NotFound) as info:
                await pl.load(1, "Nope")
            assert "Nope" in info.value.user_message("vi")
            with pytest.raises(InvalidName):
                await pl.save(1, "../../guilds/1/settings", [])
            with pytest.raises(InvalidPosition):
                await pl.remove(1, "Chill", 5)
            with pytest.raises(ValueError):
                await pl.load(-1, "Chill")

            def full(fd: int, data: object) -> int:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(files.os, "write", full)
            with pytest.raises(DiskFull):
                await pl.add_tracks(1, "Chill", [track(2)])
            monkeypatch.undo()
            assert (await pl.load(1, "Chill")).tracks == (track(1),)  # still serving, nothing lost
            nursery.cancel_scope.cancel()


async def test_concurrent_requests_never_lose_an_update(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            pl = await start(nursery, storage)
            await pl.save(7, "Party", [])

            async def add(n: int) -> None:
                await pl.add_tracks(7, "Party", [track(n)])

            async with trio.open_nursery() as adders:
                for n in range(30):
                    adders.start_soon(add, n)
            tracks = (await pl.load(7, "Party")).tracks
            assert sorted(t.webpage_url for t in tracks) == sorted(
                track(n).webpage_url for n in range(30)
            )
            nursery.cancel_scope.cancel()


async def test_closed_actor_gives_actor_dead(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        send, receive = trio.open_memory_channel[PlaylistsMsg](0)
        await receive.aclose()
        handle = PersonalPlaylistsHandle(send)
        with pytest.raises(ActorDeadError):
            await handle.load(1, "x")
