"""Ask ffmpeg how long a stream is, and in what codec, when the site did not say.

A bare audio file or an ``<audio>`` element carries no duration in yt-dlp's answer, yet the queue
shows durations and ``[limits] max_track_seconds`` must hold for such links too.  ffmpeg reads
the container header (and for MP3 estimates from the bitrate and ``Content-Length``) and prints
``Duration: HH:MM:SS.xx``; asking it to open the input without any output makes it stop there.

Without byte ranges ffmpeg cannot read the end of a file: an Ogg file then has no duration and
an MP3 one only a guess from its bitrate.  There :func:`measure_duration` reads the stream once
to learn its real length.

ffmpeg runs as an argv list (no shell) limited to network protocols, so a stream URL cannot
make it open local files; the URL has already passed the address guard.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Final

import attrs
import imageio_ffmpeg
import structlog
import trio

from musicbot.procenv import open_ffmpeg

log = structlog.get_logger(__name__)

_DURATION = re.compile(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_AUDIO_CODEC = re.compile(rb"Stream #\d+:\d+[^:]*: Audio: ([A-Za-z0-9_]+)")
PROTOCOLS: Final = "http,https,tcp,tls,crypto"  # nothing that reads local files
RW_TIMEOUT_US: Final = 5_000_000  # ffmpeg's network I/O timeout, in microseconds
MAX_STDERR: Final = 1 << 20  # a header's description is a few KiB; hostile media may say more


def ffmpeg_path(setting: str) -> str:
    """``[audio] ffmpeg``: "bundled" (imageio-ffmpeg's binary), a path, or a name on PATH."""
    if setting == "bundled":
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    return shutil.which(setting) or setting


def parse_duration(output: bytes) -> float | None:
    m = _DURATION.search(output)
    if m is None:
        return None
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return seconds if seconds > 0 else None


def parse_audio_codec(output: bytes) -> str | None:
    """The first audio stream's codec as ffmpeg names it ("opus", "mp3", "aac", …)."""
    m = _AUDIO_CODEC.search(output)
    return m.group(1).decode("ascii").lower() if m else None


_ESTIMATED = re.compile(rb"Estimating duration from bitrate")
_OUT_TIME = re.compile(rb"out_time_us=(\d+)")


@attrs.frozen
class Probe:
    duration: float | None = None
    codec: str | None = None
    # ffmpeg only guessed the duration from the bitrate and the length in bytes (MP3 without
    # a Xing header): wrong for variable bitrates, so not to be trusted where it cannot seek.
    estimated: bool = False


@attrs.frozen
class Measured:
    """How much audio ffmpeg read: the real duration when ``complete``, a lower bound else."""

    seconds: float
    complete: bool


def _input_argv(
    ffmpeg: str, url: str, headers: Mapping[str, str], http_proxy: str | None
) -> list[str]:
    argv = [ffmpeg, "-hide_banner", "-nostdin"]
    if http_proxy:
        argv += ["-protocol_whitelist", PROTOCOLS + ",httpproxy", "-http_proxy", http_proxy]
    else:
        argv += ["-protocol_whitelist", PROTOCOLS]
    argv += ["-rw_timeout", str(RW_TIMEOUT_US)]
    if headers:
        argv += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]
    return [*argv, "-i", url]


async def measure_duration(
    url: str,
    headers: Mapping[str, str],
    *,
    ffmpeg: str,
    timeout: float,
    http_proxy: str | None = None,
) -> Measured:
    """Read the whole stream once (packets copied to nowhere, nothing decoded) and report how
    long it really is.  For a host without byte ranges this is the only honest duration: ffmpeg
    cannot look at the end of the file, so it guesses or says nothing.  Stops at ``timeout``
    with what it read so far (then ``complete`` is False)."""
    argv = _input_argv(ffmpeg, url, headers, http_proxy)
    argv += ["-map", "0:a:0", "-c", "copy", "-nostats", "-progress", "pipe:1", "-f", "null", "-"]
    seen = 0
    complete = False
    # It reads a whole song: niced, so never ahead of the clock; never the token.
    process = await open_ffmpeg(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        buffer = b""
        with trio.move_on_after(timeout):
            while chunk := await process.stdout.receive_some(4096):
                buffer = (buffer + chunk)[-8192:]
                for m in _OUT_TIME.finditer(buffer):
                    seen = max(seen, int(m.group(1)))
                complete = complete or b"progress=end" in buffer
            await process.wait()
            complete = complete and process.returncode == 0
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
    return Measured(seconds=seen / 1_000_000, complete=complete)


async def probe_stream(
    url: str,
    headers: Mapping[str, str],
    *,
    ffmpeg: str,
    timeout: float,
    http_proxy: str | None = None,
) -> Probe:
    """What ffmpeg reads from the header at ``url``: the duration and the audio codec (so an
    Opus file the site did not describe can still be passed through without transcoding).
    Fields are None when ffmpeg cannot tell (live, error, timeout).  ``http_proxy`` is the
    egress guard (:mod:`musicbot.egress`), which re-checks every address ffmpeg connects to."""
    argv = _input_argv(ffmpeg, url, headers, http_proxy)
    with trio.move_on_after(timeout):
        # Without an output ffmpeg exits with status 1 after printing the input's header.
        stderr = await _stderr_of(argv)
        return Probe(
            parse_duration(stderr),
            parse_audio_codec(stderr),
            estimated=bool(_ESTIMATED.search(stderr)),
        )
    log.debug("probe_timed_out", timeout=timeout)
    return Probe()


async def _stderr_of(argv: list[str]) -> bytes:
    """Run ``argv`` niced below the bot (as every ffmpeg is) and return what it printed on
    stderr; killed and reaped if the caller is cancelled."""
    process = await open_ffmpeg(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        chunks: list[bytes | bytearray] = []
        kept = 0
        while chunk := await process.stderr.receive_some(65536):
            if kept < MAX_STDERR:  # read on past the cap (a full pipe would stall ffmpeg)
                chunks.append(chunk)
                kept += len(chunk)
        await process.wait()
        return b"".join(chunks)
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
