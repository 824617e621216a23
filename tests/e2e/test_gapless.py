"""Gapless playback through the emulator, measured at the listener.

Two queued tones (WebM Opus played directly, then MP3 through ffmpeg): the second is resolved
and its source opened while the first still plays, so the listener gets its first frame on the
tick after the first tone's last one: no silence frames, the speaking flag never drops, and
the gap between the two frames' arrivals stays under 100 ms.
"""

from __future__ import annotations

import array
import itertools
from pathlib import Path

import trio

from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import config, user
from tests.e2e.harness import Stack, decode_pcm, stack

BLOCK = 960  # samples in one 20 ms frame at 48 kHz


def _crossings(pcm: array.array[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(pcm) if (a < 0) != (b < 0))


def _seam(packets: list[bytes]) -> int:
    """Index of the first frame of the 660 Hz tone after the 440 Hz one.

    A 20 ms block of 440 Hz has about 17.6 zero crossings, one of 660 Hz about 26.4; the
    seam is the first block, after some clearly 440 Hz ones, that is closer to 660 Hz."""
    pcm = decode_pcm(packets)
    blocks = [pcm[i : i + BLOCK] for i in range(0, len(pcm) - BLOCK, BLOCK)]
    counts = [_crossings(b) for b in blocks]
    first = next(i for i, c in enumerate(counts) if abs(c - 17.6) < 3)
    return next(i for i in range(first, len(counts)) if counts[i] > 22)


async def _both_played(s: Stack) -> None:
    def done() -> bool:
        frames = [f for f in s.listener.frames if f.opus != SILENCE_FRAME]
        return len(frames) >= 590 and s.listener.frames[-1].opus == SILENCE_FRAME

    await s.voice.wait_until(done)


async def test_the_next_track_follows_without_a_gap(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("play", {"query": s.media.media_url("e660")})
            await _both_played(s)
            frames = s.listener.frames
            audio = [i for i, f in enumerate(frames) if f.opus != SILENCE_FRAME]
            span = frames[audio[0] : audio[-1] + 1]
            # Not one silence frame between the first tone's start and the second's end.
            assert all(f.opus != SILENCE_FRAME for f in span)
            seam = _seam([f.opus for f in span])
            assert 280 < seam < 320, seam  # (6 s of A440 is 300 frames)
            around = span[seam - 3 : seam + 3]
            gaps = [b.arrival - a.arrival for a, b in itertools.pairwise(around)]
            assert max(gaps) < 0.1, gaps
            session = s.voice.sessions[(s.guild.id, s.emu.world.bot_user_id)]
            await s.voice.wait_until(lambda: session.speaking[-1:] == [0])
            assert session.speaking == [1, 0], session.speaking  # on once, off at the very end
