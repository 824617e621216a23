"""A guild actor that crashes mid-song is restarted from its snapshot and playback goes on;
one that keeps crashing stops playing but keeps its queue and saved session, and /resume
carries on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from actors.guild import commands
from tests.e2e.flow import (
    add_member,
    bot_in_voice,
    bot_messages,
    callback,
    config,
    frames_after,
    tone_of,
    user,
    wait_message,
    wait_rest,
)
from tests.e2e.harness import stack

INTERNAL = "Something went wrong on my side; the queue is safe. Try again."


class Boom(Exception):
    pass


def make_history_crash(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """/history raises inside the guild actor (a bug in a handler); returns the call count."""
    calls: list[int] = []

    async def boom(g: Any, inv: Any) -> None:
        calls.append(1)
        raise Boom("a bug in a command handler")

    monkeypatch.setitem(commands.HANDLERS, "history", boom)
    return calls


def recovered_count(s: Any) -> int:
    return sum(1 for m in bot_messages(s) if "Playback recovered" in (m.get("content") or ""))


async def test_crash_mid_song_resumes_from_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = make_history_crash(monkeypatch)
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("play", {"query": s.media.media_url("e660")})
            await me.ask("play", {"query": s.media.media_url("c880")})
            await me.ask("repeat", {"mode": "track"})
            await frames_after(s, 0, 20)
            before = s.app.guilds.lookup(s.guild.id)

            assert await me.ask("history") == INTERNAL
            assert calls == [1]
            said = await wait_message(s, "Playback recovered")
            assert said["content"] == (
                "Playback recovered after an internal error; resuming **a440**."
            )
            assert s.app.guilds.lookup(s.guild.id) is not before  # a new instance
            # The listener hears the same track again, and the queue is intact.
            at = len(s.listener.frames)
            packets = await frames_after(s, at, 60)
            assert abs(tone_of(packets[10:]) - 440) < 10
            record = me.run("queue")
            queue = await s.answer(record)
            assert "[a440]" in queue and "`1.` [e660]" in queue and "`2.` [c880]" in queue
            footer = callback(s, record)["data"]["embeds"][0]["footer"]["text"]
            assert footer.endswith("repeat: this track")  # the repeat mode survived too
            assert bot_in_voice(s)


async def test_crashes_past_the_limit_keep_the_queue_and_resume_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history_crash(monkeypatch)
    with trio.fail_after(90):
        async with stack(tmp_path, config=config(storage={"snapshot_debounce": 0.2})) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("play", {"query": s.media.media_url("e660")})
            await me.ask("repeat", {"mode": "track"})
            await frames_after(s, 0, 5)
            for crash in range(1, 4):
                assert await me.ask("history") == INTERNAL
                await wait_rest(s, lambda n=crash: recovered_count(s) >= n)  # type: ignore[misc]
                await wait_rest(s, lambda: s.app.guilds.lookup(s.guild.id) is not None)
            assert await me.ask("history") == INTERNAL  # the fourth crash within 60 s
            said = await wait_message(s, "hit repeated errors")
            assert "The queue is kept" in said["content"]
            await s.voice.wait_until(lambda: not bot_in_voice(s))  # it stopped playing
            assert recovered_count(s) == 3
            # The actor holds: the queue is still there, and so is the saved session.
            queue = await me.ask("queue")
            assert "[a440]" in queue and "`1.` [e660]" in queue
            saved = await s.app.storage.sessions().load(s.guild.id)
            assert saved is not None
            assert [e["title"] for e in saved.queue["tracks"]][:2] == ["a440", "e660"]
            # /resume carries on: the bot rejoins and the same track plays again.
            monkeypatch.undo()
            assert await me.ask("resume") == "Resumed."
            await s.voice.wait_until(lambda: bot_in_voice(s))
            at = len(s.listener.frames)
            packets = await frames_after(s, at, 40)
            assert abs(tone_of(packets[10:]) - 440) < 10
            assert "`1.` [e660]" in await me.ask("queue")


async def test_stop_while_held_forgets_the_kept_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history_crash(monkeypatch)
    with trio.fail_after(90):
        async with stack(tmp_path, config=config(storage={"snapshot_debounce": 0.2})) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("repeat", {"mode": "track"})
            await frames_after(s, 0, 5)
            for crash in range(1, 5):
                assert await me.ask("history") == INTERNAL
                if crash < 4:
                    await wait_rest(s, lambda n=crash: recovered_count(s) >= n)  # type: ignore[misc]
                    await wait_rest(s, lambda: s.app.guilds.lookup(s.guild.id) is not None)
            await wait_message(s, "hit repeated errors")
            assert await s.app.storage.sessions().load(s.guild.id) is not None
            boss = add_member(s, "boss", permissions=(1 << 31) | (1 << 5))  # Manage Server
            assert await boss.ask("stop") == "Stopped and cleared the queue."
            assert await s.app.storage.sessions().load(s.guild.id) is None
            assert "The queue is empty." in await me.ask("queue")


async def test_a_failed_interaction_reply_does_not_take_the_guild_down(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            assert s.emu.rest is not None
            s.emu.rest.force_status("POST /interactions/*", 500)  # the defer of /play fails
            me.run("play", {"query": s.media.media_url("a440")})
            await frames_after(s, 0, 25)  # it plays although the member saw no answer
            before = s.app.guilds.lookup(s.guild.id)
            queue = await me.ask("queue")
            assert "[a440]" in queue
            assert s.app.guilds.lookup(s.guild.id) is before  # no crash, no restart
            assert recovered_count(s) == 0


async def test_a_crash_after_everyone_left_does_not_leave_a_ghost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history_crash(monkeypatch)
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await frames_after(s, 0, 5)
            s.emu.world.move_member(s.guild.id, me.id, None)
            assert await me.ask("history") == INTERNAL
            # The restarted actor finds nobody to play for: it leaves the channel the dead
            # instance was still in, and says nothing about recovering.
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            assert recovered_count(s) == 0
