from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from musicbot.storage import (
    DiskFull,
    GuildSettings,
    SessionSnapshot,
    SnapshotWriter,
    Storage,
    files,
)

TIMEOUT = 10


def snap(guild_id: int, *, position: float = 12.5, tracks: int = 2) -> SessionSnapshot:
    return SessionSnapshot(
        guild_id=guild_id,
        voice_channel_id=1000 + guild_id,
        text_channel_id=2000 + guild_id,
        queue={
            "entries": [{"title": f"t{i}", "url": f"https://y/{i}"} for i in range(tracks)],
            "current": 0,
        },
        position=position,
        repeat_mode="queue",
        volume=80,
        stay_24_7=True,
        saved_at=1_700_000_000.0,
    )


async def test_snapshot_save_load_all_delete(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        sessions = storage.sessions()
        assert (await sessions.load_all()).snapshots == ()
        await sessions.save(snap(1))
        await sessions.save(snap(2))
        await sessions.save(snap(2, position=99.0))
        restored = await sessions.load_all()
        by_guild = {s.guild_id: s for s in restored.snapshots}
        assert by_guild == {1: snap(1), 2: snap(2, position=99.0)}
        assert restored.unreadable == ()
        assert await sessions.load(2) == snap(2, position=99.0)
        await sessions.delete(1)
        await sessions.delete(1)  # deleting twice is fine
        assert [s.guild_id for s in (await sessions.load_all()).snapshots] == [2]
        assert await sessions.load(1) is None


async def test_load_all_skips_and_reports_corrupt_snapshots(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        sessions = storage.sessions()
        await sessions.save(snap(1))
        await sessions.save(snap(2))
        bad = sessions.path_for(2)
        bad.write_bytes(b'{"schema_version": 1, "kind": "session", "data": {"guild_id": "2"}}')
        (sessions.directory / "notes.txt").write_text("ignored")
        restored = await sessions.load_all()
        assert [s.guild_id for s in restored.snapshots] == [1]
        assert [e.path for e in restored.unreadable] == [bad]
        assert "guild_id" in restored.unreadable[0].reason
        assert bad.exists()  # kept for the operator


async def test_corrupt_snapshot_is_moved_aside_and_saving_goes_on(storage: Storage) -> None:
    """#13 item 4: snapshots are disposable; a damaged one never switches saving off."""
    with trio.fail_after(TIMEOUT):
        sessions = storage.sessions()
        await sessions.save(snap(2))
        bad = sessions.path_for(2)
        damaged = b'{"schema_version": 1, "kind": "session", "data": {"guild_'
        bad.write_bytes(damaged)
        files.backup_path(bad).unlink(missing_ok=True)
        await sessions.save(snap(2, position=40.0))
        assert await sessions.load(2) == snap(2, position=40.0)
        aside = [p for p in sessions.directory.iterdir() if ".corrupt-" in p.name]
        assert [p.read_bytes() for p in aside] == [damaged]  # kept for the operator
        restored = await sessions.load_all()
        assert [s.guild_id for s in restored.snapshots] == [2] and restored.unreadable == ()


async def test_writer_over_a_corrupt_snapshot_keeps_writing_and_flush_never_raises(
    storage: Storage,
) -> None:
    sessions = storage.sessions()
    state = {"position": 1.0}
    writer = SnapshotWriter(
        capture=lambda: snap(4, position=state["position"]), write=sessions.save, period=0.1
    )
    sessions.directory.mkdir(parents=True)
    sessions.path_for(4).write_bytes(b"\x00garbage")
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            writer.mark_dirty()
            while writer.writes < 1:  # the run loop writes (real clock: worker threads)
                await trio.sleep(0.02)
            state["position"] = 2.0
            writer.mark_dirty()
            assert await writer.flush() is True
            nursery.cancel_scope.cancel()
    assert writer.failures == 0
    assert await sessions.load(4) == snap(4, position=2.0)


async def test_delete_of_a_session_on_a_fresh_data_dir(storage: Storage) -> None:
    """#13 item 5: /leave before anything was ever saved (no sessions/ folder yet)."""
    with trio.fail_after(TIMEOUT):
        sessions = storage.sessions()
        assert not sessions.directory.exists()
        await sessions.delete(123)
        assert await sessions.load(123) is None


async def test_snapshot_queue_must_be_json(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        sessions = storage.sessions()
        broken = SessionSnapshot(
            guild_id=3,
            voice_channel_id=1,
            text_channel_id=None,
            queue={"x": object()},
            position=0.0,
            repeat_mode="off",
            volume=100,
            stay_24_7=False,
            saved_at=0.0,
        )
        with pytest.raises(TypeError):
            await sessions.save(broken)
        assert not sessions.path_for(3).exists()


async def test_guild_settings_defaults_save_load(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        store = storage.guild_settings(77)
        assert await store.load() == GuildSettings()
        wanted = GuildSettings(dj_role_id=123, stay_24_7=True, default_volume=150, language="vi")
        await store.save(wanted)
        assert await storage.guild_settings(77).load() == wanted
        assert store.path == storage.root / "guilds" / "77" / "settings.json"
        # Out-of-range values in the file are a validation failure, not a loaded value.
        doc = json.loads(store.path.read_bytes())
        doc["data"]["default_volume"] = 999
        store.path.write_text(json.dumps(doc))
        with pytest.raises(ValueError):
            GuildSettings(default_volume=201)


async def test_unreadable_settings_without_backup_fall_back_to_defaults(
    storage: Storage,
) -> None:
    """#13 item 3: the bad file is kept aside and reported; the guild works with defaults."""
    with trio.fail_after(TIMEOUT):
        store = storage.guild_settings(79)
        await store.save(GuildSettings(default_volume=150))
        doc = json.loads(store.path.read_bytes())
        doc["data"]["default_volume"] = 999  # out of range: a validation failure
        bad = json.dumps(doc).encode()
        store.path.write_bytes(bad)
        files.backup_path(store.path).unlink(missing_ok=True)
        with capture_logs() as logs:
            assert await store.load() == GuildSettings()
        [event] = [e for e in logs if e["event"] == "guild_settings_unreadable"]
        assert "default_volume" in event["reason"]
        aside = [p for p in store.path.parent.iterdir() if ".corrupt-" in p.name]
        assert [p.read_bytes() for p in aside] == [bad]
        assert [str(p) for p in aside] == event["moved_aside"]
        await store.save(GuildSettings(language="vi"))  # /settings works again
        assert await storage.guild_settings(79).load() == GuildSettings(language="vi")
        # A save that comes first (no load) also keeps the damaged bytes aside.
        store.path.write_bytes(b"{not json")
        files.backup_path(store.path).unlink(missing_ok=True)
        await store.save(GuildSettings(stay_24_7=True))
        assert await store.load() == GuildSettings(stay_24_7=True)
        assert len([p for p in store.path.parent.iterdir() if ".corrupt-" in p.name]) == 2


async def test_guild_settings_corrupt_uses_backup(storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        store = storage.guild_settings(78)
        await store.save(GuildSettings(language="en"))
        await store.save(GuildSettings(language="vi"))
        store.path.write_text('{"schema_version": 1, "kind": "guild_settings", "data": {"langu')
        assert await store.load() == GuildSettings(language="en")


class Recorder:
    def __init__(self) -> None:
        self.state = 0
        self.written: list[tuple[float, int]] = []
        self.fail = False

    def capture(self) -> int:
        return self.state

    async def write(self, value: int) -> None:
        await trio.sleep(0.01)  # a write takes a little time
        if self.fail:
            raise DiskFull(path=Path("/data/sessions/1.json"))
        self.written.append((trio.current_time(), value))


async def test_writer_writes_at_most_once_per_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder()
    writer = SnapshotWriter(capture=rec.capture, write=rec.write, period=2.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            start = trio.current_time()
            for _ in range(50):  # a burst of changes, 0.1 s apart, for 5 s
                rec.state += 1
                writer.mark_dirty()
                await trio.sleep(0.1)
            await trio.sleep(10)
            nursery.cancel_scope.cancel()
    times = [t - start for t, _ in rec.written]
    # 50 changes over 5 s with a 2 s period: the first at once, then at most one per period.
    assert times[0] < 0.1
    assert 3 <= len(times) <= 4
    assert all(b - a >= 2.0 - 1e-9 for a, b in itertools.pairwise(times))
    assert rec.written[-1][1] == 50  # the latest state got written
    assert not writer.dirty and writer.writes == len(rec.written)


async def test_writer_idle_writes_nothing_and_flush_writes_latest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder()
    writer = SnapshotWriter(capture=rec.capture, write=rec.write, period=5.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            await trio.sleep(30)
            assert rec.written == []
            rec.state = 1
            writer.mark_dirty()
            await trio.sleep(0.5)
            assert [v for _, v in rec.written] == [1]
            rec.state = 2
            writer.mark_dirty()
            rec.state = 3
            writer.mark_dirty()
            await writer.flush()  # shutdown: do not wait for the period
            assert [v for _, v in rec.written] == [1, 3]
            before = len(rec.written)
            await writer.flush()  # nothing new: no write
            assert len(rec.written) == before
            await trio.sleep(20)
            assert len(rec.written) == before
            nursery.cancel_scope.cancel()


async def test_writer_retries_after_a_failed_write(autojump_clock: trio.testing.MockClock) -> None:
    rec = Recorder()
    writer = SnapshotWriter(capture=rec.capture, write=rec.write, period=2.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            rec.fail = True
            rec.state = 7
            writer.mark_dirty()
            await trio.sleep(1)
            assert writer.failures == 1 and writer.dirty
            assert await writer.flush() is False  # logged and counted, never raised
            assert writer.failures == 2 and writer.dirty
            rec.fail = False
            await trio.sleep(5)
            assert [v for _, v in rec.written] == [7] and not writer.dirty
            nursery.cancel_scope.cancel()


async def test_writer_with_real_session_store(storage: Storage) -> None:
    # Real clock: MockClock's autojump does not see worker threads and would jump past them.
    sessions = storage.sessions()
    state: dict[str, Any] = {"position": 0.0}
    writer = SnapshotWriter(
        capture=lambda: snap(5, position=state["position"]), write=sessions.save, period=2.0
    )
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            for p in (1.0, 2.0, 3.0):
                state["position"] = p
                writer.mark_dirty()
            await writer.flush()
            nursery.cancel_scope.cancel()
    assert writer.writes == 1
    assert os.listdir(sessions.directory) == ["5.json"]
    assert (await sessions.load(5)) == snap(5, position=3.0)


def test_writer_rejects_bad_period() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            SnapshotWriter(capture=lambda: 0, write=Recorder().write, period=bad)


async def test_writer_discard_drops_pending_and_waits_for_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder()
    gate = trio.Event()

    async def slow_write(value: int) -> None:
        await gate.wait()
        await rec.write(value)

    writer = SnapshotWriter(capture=rec.capture, write=slow_write, period=2.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            rec.state = 1
            writer.mark_dirty()
            await trio.sleep(0.5)  # the write of state 1 is in flight, held by the gate
            rec.state = 2
            writer.mark_dirty()  # pending behind it
            discarded = trio.Event()

            async def discard() -> None:
                await writer.discard()
                discarded.set()

            nursery.start_soon(discard)
            await trio.sleep(1)
            assert not discarded.is_set()  # waits for the in-flight write
            gate.set()
            await discarded.wait()
            await trio.sleep(30)
            assert [v for _, v in rec.written] == [1]  # state 2 never written
            assert not writer.dirty
            rec.state = 3
            writer.mark_dirty()  # a new session writes again
            await trio.sleep(3)
            assert [v for _, v in rec.written] == [1, 3]
            nursery.cancel_scope.cancel()


async def test_session_writer_then_end_of_session(storage: Storage) -> None:
    state = {"position": 1.0}
    writer = storage.session_writer(lambda: snap(9, position=state["position"]))
    assert writer.period == storage.snapshot_debounce
    sessions = storage.sessions()
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            writer.mark_dirty()
            await writer.flush()
            assert await sessions.load(9) == snap(9, position=1.0)
            state["position"] = 2.0
            writer.mark_dirty()
            await writer.discard()  # the session ends
            await sessions.delete(9)
            nursery.cancel_scope.cancel()
    assert await sessions.load(9) is None
    assert list(sessions.directory.iterdir()) == []
