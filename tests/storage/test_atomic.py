"""Crash safety of the atomic write/read layer, driven through the playlist repository."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from musicbot.storage import (
    CorruptFile,
    DiskFull,
    PermissionDenied,
    Storage,
    StorageIOError,
    files,
)
from musicbot.storage.models import PLAYLIST_CODEC, Playlist
from tests.storage.helpers import temp_files, track, tree

TIMEOUT = 10


async def _two_versions(storage: Storage) -> Path:
    """A guild playlist saved twice: v1 has 1 track (now the .bak), v2 has 2 tracks."""
    repo = storage.guild_playlists(1)
    await repo.save("Chill", [track(1)], creator_id=7)
    await repo.add_tracks("Chill", [track(2)])
    return repo.path_for("Chill")


async def test_write_keeps_previous_version_as_backup(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        bak = files.backup_path(path)
        assert len(PLAYLIST_CODEC.decode(path.read_bytes()).tracks) == 2
        assert len(PLAYLIST_CODEC.decode(bak.read_bytes()).tracks) == 1
        assert temp_files(storage.root) == []


async def test_failure_between_write_and_rename_leaves_old_file(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        before = path.read_bytes()
        real_replace = os.replace

        def failing_replace(src: str | Path, dst: str | Path) -> None:
            if ".tmp-" in str(src) and str(dst) == str(path):
                raise OSError(errno.EIO, "Input/output error")
            real_replace(src, dst)

        monkeypatch.setattr(files.os, "replace", failing_replace)
        repo = storage.guild_playlists(1)
        with pytest.raises(StorageIOError) as info:
            await repo.add_tracks("Chill", [track(3)])
        assert info.value.path == path
        assert path.read_bytes() == before
        assert temp_files(storage.root) == []
        monkeypatch.undo()
        assert len((await repo.load("Chill")).tracks) == 2


async def test_truncated_temp_file_is_ignored_and_swept(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        # What a kill during step 3 leaves behind: half of a new version.
        leftover = path.with_name(f".{path.name}.tmp-deadbeef0000")
        leftover.write_bytes(path.read_bytes()[:37])
        repo = storage.guild_playlists(1)
        assert [p.name for p in (await repo.list()).playlists] == ["Chill"]
        assert len((await repo.load("Chill")).tracks) == 2
        await repo.add_tracks("Chill", [track(3)])
        assert not leftover.exists()
        assert len((await repo.load("Chill")).tracks) == 3


def test_sigkill_between_fsync_and_rename_leaves_old_file(tmp_path: Path) -> None:
    """A real kill (SIGKILL) of a process in the middle of a save."""
    path = tmp_path / "p.json"
    old = Playlist(name="Old", owner_id=1, created_at=1.0, updated_at=1.0, tracks=(track(1),))
    files.write_document(path, old, PLAYLIST_CODEC)
    child = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from musicbot.storage import files
        from musicbot.storage.models import PLAYLIST_CODEC, Playlist
        path = Path(sys.argv[1])
        real = os.replace
        def killer(src, dst):
            if ".tmp-" in str(src) and str(dst) == str(path):
                os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst)
        os.replace = killer
        new = Playlist(name="Old", owner_id=1, created_at=1.0, updated_at=2.0, tracks=())
        files.write_document(path, new, PLAYLIST_CODEC)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, str(path)], capture_output=True, timeout=30, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert len(temp_files(tmp_path)) == 1  # the complete-but-unrenamed new version
    assert files.read_document(path, PLAYLIST_CODEC) == old
    files.write_document(path, old, PLAYLIST_CODEC)  # the next write sweeps the leftover
    assert temp_files(tmp_path) == []


async def test_corrupt_file_is_reported_and_backup_used(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        damaged = path.read_bytes()[:50]
        path.write_bytes(damaged)
        repo = storage.guild_playlists(1)
        with capture_logs() as logs:
            loaded = await repo.load("Chill")
        assert len(loaded.tracks) == 1  # the previous version, from the backup
        corrupt = [e for e in logs if e["event"] == "storage_file_corrupt"]
        assert corrupt and corrupt[0]["path"] == str(path)
        assert "not valid JSON" in corrupt[0]["reason"]
        assert any(e["event"] == "storage_backup_used" for e in logs)
        # The damaged bytes are kept aside, and the file is usable again.
        aside = list(path.parent.glob(path.name + ".corrupt-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == damaged
        assert len(PLAYLIST_CODEC.decode(path.read_bytes()).tracks) == 1
        await repo.add_tracks("Chill", [track(9)])
        assert len((await repo.load("Chill")).tracks) == 2


async def test_unreadable_without_backup_is_never_overwritten(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        path.write_bytes(b'{"schema_version": 1, "kind": "playlist", "data": {"name": 5}}')
        files.backup_path(path).write_bytes(b"\x00\x01garbage")
        before = tree(storage.root)
        repo = storage.guild_playlists(1)
        with pytest.raises(CorruptFile) as info:
            await repo.load("Chill")
        assert info.value.path == path
        assert str(path) in str(info.value)
        for attempt in (
            repo.add_tracks("Chill", [track(3)]),
            repo.save("chill", [track(4)], creator_id=1, overwrite=True),
            repo.rename("Chill", "Other"),
        ):
            with pytest.raises(CorruptFile):
                await attempt
        assert tree(storage.root) == before
        index = await repo.list()
        assert index.playlists == () and [e.path for e in index.unreadable] == [path]


async def test_newer_schema_is_refused_not_downgraded(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        repo = storage.guild_playlists(1)
        await repo.save("Future", [track(1)], creator_id=1)
        path = repo.path_for("Future")
        doc = json.loads(path.read_bytes())
        doc["schema_version"] = 99
        path.write_text(json.dumps(doc))
        files.backup_path(path).unlink(missing_ok=True)
        with pytest.raises(CorruptFile, match="newer version"):
            await repo.add_tracks("Future", [track(2)])
        assert json.loads(path.read_bytes())["schema_version"] == 99


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
async def test_disk_full_gives_disk_full_and_loses_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        before = tree(storage.root)

        def full(fd: int, data: object) -> int:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(files.os, "write", full)
        repo = storage.guild_playlists(1)
        with pytest.raises(DiskFull) as info:
            await repo.add_tracks("Chill", [track(3)])
        with pytest.raises(DiskFull):
            await repo.save("Brand new", [track(1)], creator_id=1)
        assert info.value.path == path
        assert "disk full" in str(info.value) and str(path) in str(info.value)
        assert "disk is full" in info.value.user_message("en-US")
        assert "Ổ đĩa" in info.value.user_message("vi")
        assert tree(storage.root) == before  # no temp file, old versions intact
        monkeypatch.undo()
        assert len((await repo.load("Chill")).tracks) == 2


async def test_permission_denied_gives_typed_error_and_loses_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        before = tree(storage.root)
        real_open = os.open

        def denied(p: str | Path, flags: int, *args: int) -> int:
            if flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", str(p))
            return real_open(p, flags, *args)

        monkeypatch.setattr(files.os, "open", denied)
        repo = storage.guild_playlists(1)
        with pytest.raises(PermissionDenied) as info:
            await repo.add_tracks("Chill", [track(3)])
        assert info.value.path == path
        assert "không có quyền" in info.value.user_message("vi")
        assert tree(storage.root) == before
        monkeypatch.undo()
        assert len((await repo.load("Chill")).tracks) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
async def test_read_only_folder_gives_permission_denied(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        path.parent.chmod(0o500)
        try:
            with pytest.raises(PermissionDenied):
                await storage.guild_playlists(1).add_tracks("Chill", [track(3)])
        finally:
            path.parent.chmod(0o700)


async def test_backup_is_a_copy_where_hard_links_fail(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_link)
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        assert len(PLAYLIST_CODEC.decode(files.backup_path(path).read_bytes()).tracks) == 1
        assert temp_files(storage.root) == []


async def test_interrupted_restore_is_completed_from_backup(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        path = await _two_versions(storage)
        path.unlink()  # as if a restore was killed after moving the damaged file aside
        repo = storage.guild_playlists(1)
        assert [p.name for p in (await repo.list()).playlists] == ["Chill"]
        assert len((await repo.load("Chill")).tracks) == 1
        assert path.exists()
