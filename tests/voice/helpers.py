"""Voice test helpers: real Opus frames from ffmpeg, and a voice connection wired to the
emulator's voice server through a stand-in for the main gateway's op 4."""

from __future__ import annotations

import functools
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TypeVar

import attrs
import imageio_ffmpeg
import trio

from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.emulator.voice import MODE_AES, MODE_XCHACHA, VoiceServer
from musicbot.emulator.voice_call import COMMITTER_BOT, COMMITTER_LISTENER
from musicbot.errors import ActorDeadError
from musicbot.voice import VoiceConnection, VoiceEvent, VoiceSettings, voice_ssl_context

GUILD = 1100000000000000001
CHANNEL = 1300000000000000001
OTHER_CHANNEL = 1300000000000000002
BOT = 1200000000000000001
LISTENER = 5678567856785678
LISTENER_2 = 5678567856785679

E = TypeVar("E")


@functools.cache
def sine_opus_frames(seconds: float = 2.0, frequency: int = 440) -> tuple[bytes, ...]:
    """Opus packets of a sine tone, encoded by the bundled ffmpeg (20 ms frames)."""
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:duration={seconds}",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-c:a",
        "libopus",
        "-b:a",
        "64k",
        "-frame_duration",
        "20",
        "-f",
        "ogg",
        "pipe:1",
    ]
    data = subprocess.run(argv, check=True, capture_output=True, timeout=30).stdout
    demuxer = OggOpusDemuxer()
    packets = demuxer.feed(data)
    demuxer.finish()
    return tuple(packets)


@attrs.define
class FakeMainGateway:
    """Does what Discord does after our op 4: asks the voice server for a session and sends
    VOICE_STATE_UPDATE then VOICE_SERVER_UPDATE back to the connection."""

    server: VoiceServer
    conn: VoiceConnection | None = None
    op4: list[tuple[int, int | None, bool, bool]] = attrs.Factory(list)
    answer: bool = True  # False: swallow op 4 (a join that never completes)
    fail_next: int = 0  # raise ActorDeadError for this many op 4s (the shard is down)

    async def update_voice_state(
        self, guild_id: int, channel_id: int | None, self_mute: bool, self_deaf: bool
    ) -> None:
        self.op4.append((guild_id, channel_id, self_mute, self_deaf))
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ActorDeadError("shard")
        assert self.conn is not None
        if channel_id is None:
            self.server.end_session(guild_id=guild_id, user_id=BOT)
            return
        if not self.answer:
            return
        session_id = secrets.token_hex(8)
        token, endpoint = self.server.create_session(
            guild_id=guild_id, channel_id=channel_id, user_id=BOT, session_id=session_id
        )
        self.conn.on_voice_state_update(session_id=session_id, channel_id=channel_id)
        self.conn.on_voice_server_update(token=token, endpoint=endpoint)


@attrs.define
class VoiceEnv:
    server: VoiceServer
    conn: VoiceConnection
    gateway: FakeMainGateway
    events: trio.MemoryReceiveChannel[VoiceEvent]
    seen: list[VoiceEvent] = attrs.Factory(list)

    async def next_event(self, kind: type[E]) -> E:
        """The next event of ``kind`` (earlier events of other kinds are kept in ``seen``)."""
        async for event in self.events:
            self.seen.append(event)
            if isinstance(event, kind):
                return event
        raise AssertionError("event channel closed")

    async def send_all(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            await self.conn.send_frame(frame)


@asynccontextmanager
async def voice_env(
    *,
    modes: tuple[str, ...] = (MODE_AES, MODE_XCHACHA),
    listeners: tuple[int, ...] = (LISTENER,),
    heartbeat_interval_ms: float = 13_750.0,
    settings: VoiceSettings | None = None,
    committer: str = COMMITTER_BOT,
    trust_ca: bool = True,
) -> AsyncIterator[VoiceEnv]:
    server = VoiceServer(
        modes=modes, heartbeat_interval_ms=heartbeat_interval_ms, committer=committer
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        for uid in listeners:
            server.add_listener(guild_id=GUILD, channel_id=CHANNEL, user_id=uid)
        send, receive = trio.open_memory_channel[VoiceEvent](64)
        gateway = FakeMainGateway(server)
        settings = settings or VoiceSettings(
            join_timeout=5.0, handshake_timeout=5.0, backoff_base=0.05
        )
        # The bot trusts the CA the emulator made for the run, through the one setting
        # (``trust_ca=False``: the system's trust store only, which does not know that CA).
        if trust_ca:
            settings = attrs.evolve(settings, ssl_context=voice_ssl_context(server.ca_file))
        conn = VoiceConnection(
            guild_id=GUILD,
            user_id=BOT,
            update_voice_state=gateway.update_voice_state,
            events=send,
            settings=settings,
        )
        gateway.conn = conn
        await nursery.start(conn.run)
        yield VoiceEnv(server, conn, gateway, receive)
        conn.close()
        nursery.cancel_scope.cancel()


__all__ = ["COMMITTER_BOT", "COMMITTER_LISTENER", "MODE_AES", "MODE_XCHACHA"]
