"""Our send path: N players (musicbot.audio) paced by the one voice sender (musicbot.voice.sender),
through the real transport encryption (musicbot.voice.rtp) to UDP on 127.0.0.1, measured on the
trio clock.  Passthrough streams are fetched over HTTP from the bench's media server (another
process) and demuxed in process; transcodes run ffmpeg on a local file."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import socket
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import trio

from musicbot.audio.direct import DirectOpener
from musicbot.audio.messages import Play, PlayerCommand, PlayerEvent
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.player import FRAME, PlayerStats, run_player
from musicbot.audio.source import FfmpegOpener, FfmpegSource, SourceRequest
from musicbot.audio.webm import WebmOpusDemuxer
from musicbot.heap import HeapKeeper, freeze_startup_heap
from musicbot.models.media import SILENCE_FRAME
from musicbot.models.track import Track
from musicbot.voice.rtp import (
    EncryptionMode,
    PyAesGcmKey,
    PyRtpPacketizer,
    RtpPacketizer,
    TransportCipher,
    send_nowait,
)
from musicbot.voice.sender import VoiceSender

BENCH_CHUNK = 256 << 10  # bytes per ranged request in the bench (16 s of audio at 128 kb/s)

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class UdpSink:
    """What the voice connection does per frame: RTP header, AEAD, one datagram on the
    connected non-blocking socket, through the same ``rtp.send_nowait`` as
    VoiceConnection.send_frame_nowait (the C accelerator where it is built)."""

    def __init__(self, sock: socket.socket, mode: EncryptionMode, ssrc: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.cipher = TransportCipher(mode, os.urandom(32))
        self.rtp = RtpPacketizer(ssrc=ssrc)
        self.times = array("d")
        self._stamp = self.times.append
        self.play_at = 0.0

    def send_frame_nowait(self, opus: bytes) -> None:
        try:  # noqa: SIM105 (suppress() builds a context manager per packet)
            send_nowait(self.rtp, self.cipher, self.fd, opus)
        except OSError:  # a full loopback buffer drops, like the voice connection does
            pass
        if opus is not SILENCE_FRAME:
            # The bench's own instrument, kept as cheap as it gets (the connection has none):
            # trio.current_time() here cost 1.5-1.9 µs per packet, charged to the bot.
            self._stamp(perf_counter())

    async def set_speaking(self, speaking: bool) -> None:
        pass


class RecordingOpener:
    def __init__(self, inner: FfmpegOpener) -> None:
        self.inner = inner
        self.pids: list[int] = []

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FfmpegSource]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: SourceRequest) -> AsyncIterator[FfmpegSource]:
        async with self.inner(request) as source:
            self.pids.append(source.pid)
            yield source


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid: int | str = "self") -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def proc_pss(pid: int) -> int:
    """Proportional set size: shared pages (the ffmpeg binary's text) split among sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def pacing_errors(times: array[float], start: float, end: float) -> list[float]:
    """Per frame: how late it left compared with the earliest 20 ms grid that fits the window
    (frame k due at g + k * 20 ms, g = the smallest t_k - k * 20 ms), in milliseconds."""
    xs = [t - k * FRAME for k, t in enumerate(times) if start <= t <= end]
    if not xs:
        return []
    base = min(xs)
    return [(x - base) * 1000 for x in xs]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def scenario(
    ffmpeg: str,
    source: str,
    *,
    mode: str,
    n: int,
    warmup: float,
    window: float,
    background: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """N streams of ``source`` (an http URL of WebM Opus for passthrough, a local MP3 path for
    transcode) on one VoiceSender; figures over ``window`` after every stream started."""
    raise_fd_limit()
    freeze_startup_heap()  # as the bot does once it has started (musicbot.heap), and
    # its heap keeper (started below) decides when full collections run
    ff = RecordingOpener(FfmpegOpener(ffmpeg=ffmpeg, trusted_local=True, bitrate_kbps=128))
    opener = DirectOpener(fallback=ff, chunk=BENCH_CHUNK)
    codec = "opus" if mode == "passthrough" else "mp3"
    track = Track(title="bench", webpage_url="bench", stream_url=source, codec=codec)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    sinks: list[UdpSink] = []
    socks: list[socket.socket] = []
    stats = [PlayerStats() for _ in range(n)]
    sender = VoiceSender()
    children0 = children_cpu()
    rss0 = proc_rss()
    result: dict[str, Any] = {}
    begin = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(sender.run)
        keeper = HeapKeeper(lambda: sender.active_streams)
        await nursery.start(keeper.run)
        for i in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(("127.0.0.1", port))
            socks.append(sock)
            # AES-GCM, which Discord offers and the bot prefers (XChaCha20 is in the micro figures).
            mode_i = EncryptionMode.AES256_GCM
            sink = UdpSink(sock, mode_i, ssrc=1000 + i)
            sinks.append(sink)
            send, receive = trio.open_memory_channel[PlayerCommand](4)
            ev_send, _ev_receive = trio.open_memory_channel[PlayerEvent](64)
            nursery.start_soon(
                lambda r=receive, s=sink, e=ev_send, st=stats[i]: run_player(  # type: ignore[misc]
                    r, sink=s, clock=sender, events=e, opener=opener, stats=st
                )
            )
            # Starts spread over about a second, as joins would be.
            await trio.sleep(min(FRAME, 1.0 / n))
            send.send_nowait(Play(track=track))
            sink.play_at = perf_counter()
        with trio.move_on_after(max(10.0, n / 20)):
            while sum(1 for s in stats if s.frames) < n:
                await trio.sleep(0.1)
        started = sum(1 for s in stats if s.frames)
        all_started_s = trio.current_time() - begin
        if background is not None:
            nursery.start_soon(background)
        await trio.sleep(warmup)
        t0, cpu0 = trio.current_time(), self_cpu()
        w0 = perf_counter()  # the sinks' clock
        re0 = sender.stats.reanchors
        full0 = keeper.runs
        ff0 = {pid: proc_cpu(pid) for pid in ff.pids}
        await trio.sleep(window)
        t1, cpu1 = trio.current_time(), self_cpu()
        w1 = perf_counter()
        re1 = sender.stats.reanchors
        full1 = keeper.runs
        ff1 = {pid: proc_cpu(pid) for pid in ff.pids}
        rss1 = proc_rss()
        ff_pss = [proc_pss(pid) for pid in ff.pids]
        nursery.cancel_scope.cancel()
    teardown_s = trio.current_time() - t1
    for sock in socks:
        sock.close()
    children1 = children_cpu()
    receiver.close()
    errors: list[float] = []
    for sink in sinks:
        errors += pacing_errors(sink.times, w0, w1)
    startup = sorted((s.times[0] - s.play_at) * 1000 for s in sinks if s.times)
    packets = sum(sum(1 for t in s.times if w0 <= t <= w1) for s in sinks)
    stream_minutes = n * (t1 - t0) / 60
    bot_cpu = cpu1 - cpu0
    ff_cpu = sum(ff1[p] - ff0.get(p, 0.0) for p in ff1)
    bot_kib = max(0, rss1 - rss0) / 1024 / n
    ff_kib = sum(ff_pss) / 1024 / n
    result.update(
        mode=mode,
        codec=mode,
        streams=n,
        started=started,
        all_started_s=round(all_started_s, 2),
        window_s=round(t1 - t0, 2),
        teardown_s=round(teardown_s, 2),
        packets=packets,
        expected_packets=int(n * (t1 - t0) / FRAME),
        pacing_ms={
            "p50": round(percentile(errors, 50), 3),
            "p99": round(percentile(errors, 99), 3),
            "max": round(max(errors, default=float("nan")), 3),
        },
        startup_ms_p50=round(percentile(startup, 50), 1),
        startup_ms_max=round(max(startup, default=float("nan")), 1),
        reanchors=re1 - re0,
        full_collections=full1 - full0,  # run by the heap keeper in the window
        reanchors_incl_startup=sender.stats.reanchors,
        underruns=sum(s.underruns for s in stats),
        us_per_packet=round(1e6 * bot_cpu / max(1, packets), 1),
        bot_cpu_us_per_packet=round(1e6 * bot_cpu / max(1, packets), 1),
        bot_cpu_s_per_stream_min=round(bot_cpu / stream_minutes, 4),
        bot_cpu_pct_core_per_stream=round(100 * bot_cpu / (n * (t1 - t0)), 3),
        ffmpeg_cpu_s_per_stream_min=round(ff_cpu / stream_minutes, 4),
        ffmpeg_cpu_s_children_total=round(children1 - children0, 3),
        ffmpeg_processes=len(ff.pids),
        bot_rss_kib_per_stream=round(bot_kib, 1),
        ffmpeg_pss_kib_per_stream=round(sum(ff_pss) / 1024 / max(1, len(ff_pss)), 1),
        kib_per_stream_total=round(bot_kib + ff_kib, 1),
    )
    return result


def micro(path: Path, webm: Path | None = None, repeat: int = 20) -> dict[str, float]:
    """Per-packet cost without pacing or I/O: demux, and RTP + AEAD in both modes."""
    data = path.read_bytes()
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    t = time.process_time()
    count = 0
    for _ in range(repeat):
        demux = OggOpusDemuxer()
        for chunk in chunks:
            count += len(demux.feed(chunk))
    demux_us = 1e6 * (time.process_time() - t) / count
    packets = []
    demux = OggOpusDemuxer()
    for chunk in chunks:
        packets += demux.feed(chunk)
    out: dict[str, float] = {"demux_us": round(demux_us, 3), "packets": len(packets)}
    if webm is not None:
        wdata = webm.read_bytes()
        wchunks = [wdata[i : i + 65536] for i in range(0, len(wdata), 65536)]
        t = time.process_time()
        wcount = 0
        for _ in range(repeat):
            wdemux = WebmOpusDemuxer()
            for chunk in wchunks:
                wcount += len(wdemux.feed(chunk))
        out["webm_demux_us"] = round(1e6 * (time.process_time() - t) / wcount, 3)
    for mode in EncryptionMode:
        cipher = TransportCipher(mode, os.urandom(32))
        rtp = RtpPacketizer(ssrc=1)
        t = time.process_time()
        for _ in range(repeat):
            for p in packets:
                header, sealed, suffix = rtp.next_packet_parts(cipher, p)
                _ = header + sealed + suffix
        key = "xchacha" if mode is EncryptionMode.XCHACHA20 else "aesgcm"
        out[f"rtp_{key}_us"] = round(1e6 * (time.process_time() - t) / (repeat * len(packets)), 3)
    # The whole AES-GCM send path, kernel send included, on the path in use (the C accelerator
    # when built) and on the pure-Python one, to a loopback socket drained between batches.
    out["send_aesgcm_us"] = send_cost(RtpPacketizer(ssrc=1), packets, repeat)
    out["send_aesgcm_python_us"] = send_cost(PyRtpPacketizer(ssrc=1), packets, repeat)
    return out


def send_cost(rtp: RtpPacketizer | PyRtpPacketizer, packets: list[bytes], repeat: int) -> float:
    key = os.urandom(32)
    cipher = TransportCipher(EncryptionMode.AES256_GCM, key)
    if not isinstance(rtp, RtpPacketizer):  # the pure path needs the pure key
        cipher.aes_key = PyAesGcmKey(key)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        rx.setblocking(False)
        tx.connect(rx.getsockname())
        fd = tx.fileno()
        spent, sent = 0.0, 0
        for _ in range(repeat):
            for at in range(0, len(packets), 200):
                batch = packets[at : at + 200]
                t = time.process_time()
                for p in batch:
                    send_nowait(rtp, cipher, fd, p)  # type: ignore[arg-type]
                spent += time.process_time() - t
                sent += len(batch)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        rx.recv(4096)
    return round(1e6 * spent / max(1, sent), 3)


async def trio_floor(n: int, seconds: float) -> float:
    """CPU µs per wake-up of ``n`` tasks that only ``sleep_until`` a 20 ms grid each: the cost
    of the scheduler alone, the floor under any per-frame work on trio."""
    rounds = int(seconds / FRAME)

    async def ticker(phase: float) -> None:
        t0 = trio.current_time() + phase
        for i in range(rounds):
            await trio.sleep_until(t0 + i * FRAME)

    c0 = self_cpu()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(ticker, random.uniform(0, FRAME))
    return round(1e6 * (self_cpu() - c0) / (n * rounds), 1)
