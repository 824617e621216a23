"""Crash-safe sessions: a bot killed mid-song and started again resumes where it was.

The crash is the root nursery of ``serve`` cancelled without ``request_stop``: no graceful flush,
only what the debounced snapshot writer had already put on disk survives.  The track is a
"staircase" (the frequency steps up every ``STEP`` seconds), so the first audio the listener
hears after the restart tells at which position the player started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import imageio_ffmpeg
import pytest
import trio

from musicbot.app import App, serve
from musicbot.emulator.media import Tone
from tests.e2e.flow import frames_after, tone_of, user
from tests.e2e.harness import Stack, decode_pcm, dominant_frequency, stack

STEP = 2.0  # seconds per frequency step
BASE_HZ = 400.0
STEP_HZ = 100.0
DURATION = 20.0
STEPS_PATH = "/media/steps.ogg"
CONFIG = {"storage": {"snapshot_debounce": 0.2}}
LONG = (Tone(name="long", title="Long A440", frequency=440.0, duration=60.0, format="webm"),)


async def _staircase(directory: Path) -> bytes:
    """An Ogg/Opus file whose tone is BASE_HZ + STEP_HZ * floor(t / STEP)."""
    out = directory / "steps.ogg"
    expr = f"sin(2*PI*({BASE_HZ}+{STEP_HZ}*floor(t/{STEP}))*t)"
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"aevalsrc={expr}:s=48000:d={DURATION}",
        "-ac", "2", "-c:a", "libopus", "-b:a", "48k", "-f", "ogg", str(out),
    ]  # fmt: skip
    await trio.run_process(argv, capture_stdout=True, capture_stderr=True)
    return out.read_bytes()


async def _saved_position_at_least(s: Stack, seconds: float) -> float:
    """Poll the session file (what a crash would leave) until it records ``seconds``."""
    sessions = s.app.storage.sessions()
    while True:
        snap = await sessions.load(s.guild.id)
        if snap is not None and snap.position >= seconds:
            return snap.position
        await trio.sleep(0.05)


async def _eventually(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await trio.sleep(0.05)


def _crash(s: Stack) -> None:
    s.app.cancel_scope.cancel()  # no request_stop: no graceful flush, no leaving voice


async def _queue_staircase(s: Stack, tmp_path: Path) -> None:
    s.media.files[STEPS_PATH] = await _staircase(tmp_path)
    answer = await s.answer(s.play(s.media.url(STEPS_PATH)))
    assert "steps" in answer


async def test_killed_mid_song_rejoins_and_resumes_near_the_saved_position(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            await _queue_staircase(s, tmp_path)
            await s.frames(25)
            saved = await _saved_position_at_least(s, 4.0)  # the player reports every 5 s
            _crash(s)
            await trio.sleep(0)
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, s.app.config)
                await app.ready.wait()
                mark = len(s.listener.frames)
                frames = await s.frames(mark + 60)  # the new bot rejoined and plays again
                heard = frames[mark + 10 : mark + 55]  # 0.9 s, past the first packets
                freq = dominant_frequency(decode_pcm([f.opus for f in heard]))
                step = round((freq - BASE_HZ) / STEP_HZ)
                assert abs(freq - (BASE_HZ + step * STEP_HZ)) < 25, freq
                started = step * STEP  # the heard step covers [started, started + STEP)
                # Resumed within a few seconds of the saved position (not from the start).
                assert started - 1.0 <= saved <= started + STEP + 1.5, (saved, freq)
                app.request_stop()


@pytest.mark.parametrize("gone", ["emptied", "deleted"])
async def test_a_session_whose_channel_is_empty_or_gone_is_dropped_and_its_ghost_leaves(
    tmp_path: Path, gone: str
) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            await _queue_staircase(s, tmp_path)
            await s.frames(25)
            await _saved_position_at_least(s, 0.0)
            _crash(s)
            world = s.emu.world
            bot = world.bot_user_id
            assert world.voice_channel_of(s.guild.id, bot) == s.voice_channel  # a ghost
            if gone == "emptied":
                world.move_member(s.guild.id, s.user.user_id, None)  # nobody left to listen
            else:
                world.delete_channel(s.guild.id, s.voice_channel)
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, s.app.config)
                await app.ready.wait()
                # /queue is handled after the restore attempt (router and actor keep order).
                assert "The queue is empty" in await s.answer(s.command("queue"))
                await _eventually(lambda: world.voice_channel_of(s.guild.id, bot) is None)
                assert await app.storage.sessions().load(s.guild.id) is None
                app.request_stop()


async def test_resume_sessions_false_leaves_the_stored_session_alone(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            await _queue_staircase(s, tmp_path)
            await s.frames(25)
            await _saved_position_at_least(s, 0.0)
            _crash(s)
            cfg = s.app.config
            cfg = attrs.evolve(cfg, storage=attrs.evolve(cfg.storage, resume_sessions=False))
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, cfg)
                await app.ready.wait()
                mark = len(s.listener.frames)
                assert "The queue is empty" in await s.answer(s.command("queue"))
                assert len(s.listener.frames) == mark  # nothing resumed playing
                assert await app.storage.sessions().load(s.guild.id) is not None
                app.request_stop()


async def test_a_graceful_restart_resumes_too(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            await _queue_staircase(s, tmp_path)
            await s.frames(25)
            s.app.request_stop()  # snapshot flushed, silence sent, voice left
            world = s.emu.world
            bot = world.bot_user_id
            await _eventually(lambda: world.voice_channel_of(s.guild.id, bot) is None)
            saved = await s.app.storage.sessions().load(s.guild.id)
            assert saved is not None and saved.voice_channel_id == s.voice_channel
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, s.app.config)
                await app.ready.wait()
                assert "steps" in await s.answer(s.command("queue"))
                mark = len(s.listener.frames)
                await s.frames(mark + 25)  # heard again
                assert world.voice_channel_of(s.guild.id, bot) == s.voice_channel
                app.request_stop()


async def test_a_restart_plays_on_through_the_sessions_filter(tmp_path: Path) -> None:
    # The filter is the session's, stored with the queue; the equalizer stays the server's.
    with trio.fail_after(90):
        async with stack(tmp_path, config=CONFIG, tones=LONG) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("long")})
            await me.ask("eq", {"band": "400", "gain": -6})
            assert "Filter: nightcore" in await me.ask("filter", {"preset": "nightcore"})
            assert abs(tone_of(await frames_after(s, len(s.listener.frames), 60)) - 550) < 12
            s.app.request_stop()  # snapshot flushed, silence sent, voice left
            world = s.emu.world
            await _eventually(lambda: world.voice_channel_of(s.guild.id, world.bot_user_id) is None)
            saved = await s.app.storage.sessions().load(s.guild.id)
            assert saved is not None and saved.filter_preset == "nightcore"
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, s.app.config)
                await app.ready.wait()
                shown = await me.ask("filter")
                assert shown.startswith("Filter: nightcore\n") and "400 Hz -6 dB" in shown, shown
                # Heard through it again: 1.25 x 440 Hz.
                assert abs(tone_of(await frames_after(s, len(s.listener.frames), 75)) - 550) < 12
                app.request_stop()
