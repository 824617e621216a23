"""Helpers for driving the bot as Discord users would (on top of ``tests.e2e.harness``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from musicbot.emulator.world import Member
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.harness import Stack, _text_of, decode_pcm, dominant_frequency

ACK_LIMIT = 3.0  # Discord drops an interaction not acknowledged within 3 s

# Fast, permissive limits for a test: no rate limit in the way, short timeouts only where a
# test asks for them.
BASE_CONFIG: dict[str, dict[str, Any]] = {
    "limits": {"user_commands": 1000, "user_commands_period": 1.0},
    "voice": {"alone_timeout": 600.0, "idle_timeout": 600.0},
}


def config(**sections: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in BASE_CONFIG.items()}
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


@attrs.define
class Sent:
    """An interaction a test injected, with the trio time it was created."""

    record: Any
    at: float


@attrs.define
class User:
    """One member acting through the emulator."""

    s: Stack
    member: Member
    sent: list[Sent] = attrs.field(factory=list)

    @property
    def id(self) -> int:
        return self.member.user_id

    def run(self, name: str, options: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        kw.setdefault("channel_id", self.s.text_channel)
        record = self.s.emu.command(self.s.guild.id, self.id, name, options or {}, **kw)
        self.sent.append(Sent(record, trio.current_time()))
        return record

    def press(self, custom_id: str, **kw: Any) -> Any:
        kw.setdefault("channel_id", self.s.text_channel)
        record = self.s.emu.component(self.s.guild.id, self.id, custom_id, **kw)
        self.sent.append(Sent(record, trio.current_time()))
        return record

    async def ask(self, name: str, options: Mapping[str, Any] | None = None, **kw: Any) -> str:
        return await self.s.answer(self.run(name, options, **kw))

    async def tap(self, custom_id: str, **kw: Any) -> str:
        return await answer_any(self.s, self.press(custom_id, **kw))


def user(s: Stack, member: Member | None = None) -> User:
    return User(s, member or s.user)


def add_member(s: Stack, name: str, *, in_voice: bool = True, **kw: Any) -> User:
    member = s.emu.world.add_member(s.guild.id, name, **kw)
    if in_voice:
        s.emu.world.move_member(s.guild.id, member.user_id, s.voice_channel)
    return User(s, member)


async def answer_any(s: Stack, record: Any) -> str:
    """Like ``Stack.answer`` but also accepts a follow-up or an UPDATE_MESSAGE (type 7)."""
    assert s.emu.rest is not None
    rest = s.emu.rest
    with trio.fail_after(20):
        while True:
            state = rest.interactions.get(record.id)
            if state is not None:
                text = _text_of(state)
                if text:
                    return text
                for message in state.followups:
                    text = _text_of(attrs.evolve(state, original=message, callbacks=[]))
                    if text:
                        return text
            await rest.wait_for_change()


def callback(s: Stack, record: Any) -> dict[str, Any]:
    assert s.emu.rest is not None
    state = s.emu.rest.interactions[record.id]
    assert state.callbacks, f"interaction {record.id} never got a callback"
    body: dict[str, Any] = state.callbacks[0]
    return body


def ack_delays(s: Stack, sent: list[Sent]) -> list[float]:
    """Seconds from each interaction's creation to its accepted callback."""
    assert s.emu.rest is not None
    delays = []
    for item in sent:
        prefix = f"/interactions/{item.record.id}/"
        acks = [
            r
            for r in s.emu.rest.requests
            if r.path.startswith(prefix) and r.path.endswith("/callback") and r.status < 300
        ]
        assert len(acks) == 1, (item.record.id, [r.status for r in acks])
        delays.append(acks[0].time - item.at)
    return delays


async def wait_rest(s: Stack, predicate: Callable[[], Any]) -> Any:
    assert s.emu.rest is not None
    while True:
        found = predicate()
        if found:
            return found
        await s.emu.rest.wait_for_change()


def channel_messages(s: Stack) -> list[dict[str, Any]]:
    assert s.emu.rest is not None
    return list(s.emu.rest.messages.get(s.text_channel, []))


def bot_messages(s: Stack) -> list[dict[str, Any]]:
    """Messages the bot posted itself (not interaction answers)."""
    return [m for m in channel_messages(s) if "interaction_id" not in m and "webhook_id" not in m]


def np_messages(s: Stack) -> list[dict[str, Any]]:
    return [m for m in bot_messages(s) if m.get("embeds") and m.get("components")]


async def wait_message(s: Stack, text: str) -> dict[str, Any]:
    """The first message the bot posted in the music channel containing ``text``."""

    def find() -> dict[str, Any] | None:
        return next((m for m in bot_messages(s) if text in (m.get("content") or "")), None)

    found: dict[str, Any] = await wait_rest(s, find)
    return found


async def frames_after(s: Stack, start: int, count: int) -> list[bytes]:
    """``count`` non-silence Opus packets the listener received after index ``start``."""

    def ready() -> bool:
        return sum(1 for f in s.listener.frames[start:] if f.opus != SILENCE_FRAME) >= count

    await s.voice.wait_until(ready)
    return [f.opus for f in s.listener.frames[start:] if f.opus != SILENCE_FRAME][:count]


def tone_of(packets: list[bytes]) -> float:
    return dominant_frequency(decode_pcm(packets))


def loudness(packets: list[bytes]) -> float:
    """RMS of the decoded packets (the decoder's first 100 ms left out)."""
    pcm = decode_pcm(packets)[4800:]
    return float((sum(x * x for x in pcm) / max(1, len(pcm))) ** 0.5)


async def wait_frames(s: Stack, count: int) -> int:
    """Until the listener has ``count`` frames in total; returns how many it has."""
    await s.voice.wait_until(lambda: len(s.listener.frames) >= count)
    return len(s.listener.frames)


def bot_in_voice(s: Stack) -> bool:
    bot = s.emu.world.bot_user_id
    return bot in s.emu.world.guilds[s.guild.id].voice_states


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes whose parent is this test process."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." - comm may contain spaces, so split after the ')'.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and "ffmpeg" in comm:
            found.append(int(entry.name))
    return found


async def wait_no_ffmpeg() -> None:
    """Until no ffmpeg child is left (polled: /proc has no change notification)."""
    while ffmpeg_children():
        await trio.sleep(0.05)


async def poll(predicate: Callable[[], Any], every: float = 0.02) -> None:
    """For conditions nothing notifies about (e.g. a supervisor dropping a child)."""
    while not predicate():
        await trio.sleep(every)
