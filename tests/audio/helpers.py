"""Test helpers: an Ogg Opus writer (with real CRCs, so ffmpeg accepts it), media generation
with the bundled ffmpeg, a tiny HTTP server, and in-memory sinks and frame sources."""

from __future__ import annotations

import http.server
import itertools
import math
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path

import imageio_ffmpeg
import trio

from musicbot.audio.source import SourceRequest

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


def ogg_page(
    segments: Sequence[int], body: bytes, *, flags: int, granule: int, seq: int, serial: int = 1
) -> bytes:
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seq, 0, len(segments))
    page = bytearray(header + bytes(segments) + body)
    struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
    return bytes(page)


def opus_head() -> bytes:
    return b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)


def opus_tags() -> bytes:
    vendor = b"tests"
    return b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)


def mux_ogg(
    packets: Sequence[bytes], *, per_page: int = 50, samples: int = 960, max_segments: int = 255
) -> bytes:
    """Ogg Opus with the two header packets, then ``packets`` laced across pages.

    Packets are split across pages whenever the segment table would overflow, which exercises
    continuation (flag 0x01) exactly like a real muxer does with big packets.
    """
    out = bytearray()
    seq = 0
    out += ogg_page([len(opus_head())], opus_head(), flags=0x02, granule=0, seq=seq)
    seq += 1
    # Tags deliberately on their own page (may span several if large).
    out += _pages_for([opus_tags()], 0, seq, max_segments, flags_first=0)[0]
    seq += 1
    granule = 0
    for i in range(0, len(packets), per_page):
        chunk = packets[i : i + per_page]
        granule += samples * len(chunk)
        data, used = _pages_for(chunk, granule, seq, max_segments, flags_first=0)
        out += data
        seq += used
    return bytes(out)


def _pages_for(
    packets: Sequence[bytes], granule: int, seq: int, max_segments: int, *, flags_first: int
) -> tuple[bytes, int]:
    laced: list[tuple[int, bytes]] = []
    for p in packets:
        n = len(p)
        pos = 0
        while n - pos >= 255:
            laced.append((255, p[pos : pos + 255]))
            pos += 255
        laced.append((n - pos, p[pos:]))
    out = bytearray()
    used = 0
    flags = flags_first
    while laced:
        page, laced = laced[:max_segments], laced[max_segments:]
        last = not laced
        out += ogg_page(
            [s for s, _ in page],
            b"".join(b for _, b in page),
            flags=flags,
            granule=granule if last else -1,
            seq=seq + used,
        )
        used += 1
        flags = 0x01 if page[-1][0] == 255 else 0
    return bytes(out), used


def make_media(path: Path, *, codec: str, seconds: float = 3.0, stepped: bool = False) -> Path:
    """A sine-tone file made by the bundled ffmpeg.  ``stepped``: 200 Hz + 100 Hz per second,
    so the decoded frequency tells where in the file playback is."""
    if stepped:
        src = f"aevalsrc=sin(2*PI*(200+100*floor(t))*t):s=48000:d={seconds}"
    else:
        src = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    args = {
        "opus-ogg": ["-c:a", "libopus", "-b:a", "96k", "-frame_duration", "20", "-f", "ogg"],
        "opus-webm": ["-c:a", "libopus", "-b:a", "96k", "-frame_duration", "20", "-f", "webm"],
        "opus60-ogg": ["-c:a", "libopus", "-b:a", "64k", "-frame_duration", "60", "-f", "ogg"],
        "mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"],
    }[codec]
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            src,
            "-ac",
            "2",
            *args,
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def decode_to_pcm(ogg: bytes) -> list[int]:
    """Decode Ogg Opus with ffmpeg to 48 kHz mono signed 16-bit samples."""
    proc = subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            "pipe:0",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "48000",
            "pipe:1",
        ],
        input=ogg,
        capture_output=True,
        check=True,
        timeout=60,
    )
    n = len(proc.stdout) // 2
    return list(struct.unpack(f"<{n}h", proc.stdout[: 2 * n]))


def dominant_frequency(samples: Sequence[int], rate: int = 48000) -> float:
    """Frequency of a pure tone from its zero crossings."""
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def rms(samples: Sequence[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


@contextmanager
def http_server(
    directory: Path, *, stall_path: str = "/stall", seen: list[dict[str, str]] | None = None
) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 from a thread; ``stall_path`` sends headers and a few
    bytes, then never sends more (until the server shuts down).  Request headers go to
    ``seen``."""
    stop = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(directory), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if seen is not None:
                seen.append(dict(self.headers.items()))
            if self.path.startswith("/redirect-to-file"):
                self.send_response(302)
                self.send_header("Location", "file:///etc/hostname")
                self.end_headers()
                return
            if self.path.startswith("/forbidden"):
                self.send_error(403)
                return
            if self.path.startswith(stall_path):
                self.send_response(200)
                self.send_header("Content-Type", "audio/ogg")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.write(b"OggS")
                self.wfile.flush()
                stop.wait(30)
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


class MemorySink:
    """A FrameSink that records (trio time, frame) and speaking changes."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.speaking: list[tuple[float, bool]] = []

    async def send_frame(self, opus: bytes) -> None:
        self.frames.append((trio.current_time(), opus))

    def send_frame_nowait(self, opus: bytes) -> None:
        self.frames.append((trio.current_time(), opus))

    async def set_speaking(self, speaking: bool) -> None:
        self.speaking.append((trio.current_time(), speaking))


class FakeSource:
    def __init__(self, opener: FakeOpener, offset: float) -> None:
        self.opener = opener
        self.next = round(offset / 0.02)

    async def receive_frames(self) -> Sequence[bytes]:
        o = self.opener
        if o.chunk_delay:
            await trio.sleep(o.chunk_delay)
        if o.fail_at is not None and self.next >= o.fail_at:
            raise o.error
        if self.next >= o.total:
            return ()
        end = min(o.total, self.next + o.chunk)
        if o.fail_at is not None:
            end = min(end, o.fail_at)
        frames = [fake_frame(i) for i in range(self.next, end)]
        self.next = end
        return frames


def fake_frame(i: int) -> bytes:
    return b"\xfc" + struct.pack(">I", i)


def frame_index(frame: bytes) -> int:
    return int(struct.unpack(">I", frame[1:5])[0])


class FakeOpener:
    """A SourceOpener without ffmpeg: frame i of the track is ``fake_frame(i)``, so a test can
    tell from the frames which part of the track was played."""

    def __init__(
        self,
        *,
        total: int = 500,
        chunk: int = 10,
        chunk_delay: float = 0.0,
        open_delay: float = 0.0,
        fail_at: int | None = None,
        error: Exception | None = None,
    ) -> None:
        self.total, self.chunk, self.chunk_delay = total, chunk, chunk_delay
        self.open_delay, self.fail_at = open_delay, fail_at
        self.error = error or RuntimeError("no error configured")
        self.requests: list[tuple[float, int]] = []
        self.open_now = 0

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FakeSource]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: SourceRequest) -> AsyncIterator[FakeSource]:
        self.requests.append((request.offset, request.volume))
        self.open_now += 1
        try:
            if self.open_delay:
                await trio.sleep(self.open_delay)
            yield FakeSource(self, request.offset)
        finally:
            self.open_now -= 1
