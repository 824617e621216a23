"""ffmpeg: find the binary, build its argv, and read its stderr into typed errors.

Everything here is pure (no processes) so it is cheap to test; :mod:`musicbot.audio.source`
runs the process.

Theory of the command line.  Output is always Ogg Opus on stdout: 48 kHz, stereo, 20 ms frames
(Discord plays 20 ms frames and the player paces one per 20 ms).  When the source is already
Opus and nothing has to change the samples (volume 100 %), the packets are copied as they are
(``-c:a copy``): no decode, no re-encode, no generation loss, and almost no CPU.  A seek is an
input option (``-ss`` before ``-i``), which both modes honour: the demuxer seeks, and in copy
mode the first packet is the one at or just before the offset.  Anything else is decoded and
encoded with libopus, through the ``-af`` graph of the volume and the member's effects
(:mod:`musicbot.audio.effects`).

Untrusted input (every URL a user can cause us to open) is HTTP(S) only: ``-protocol_whitelist``
stops a crafted playlist or redirect from reading ``file:`` or anything else local.  Trusted
local files (bench, tests, demo tracks) are an explicit opt-in.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from typing import Final, Literal

import imageio_ffmpeg

from musicbot.audio.effects import NO_EFFECTS, Effects
from musicbot.audio.errors import (
    FfmpegNotFoundError,
    SourceCrashedError,
    SourceDecodeError,
    SourceError,
    SourceOpenError,
)
from musicbot.models.track import Track

BUNDLED: Final = "bundled"
NETWORK_PROTOCOLS: Final = "http,https,tcp,tls,crypto"
LOCAL_PROTOCOLS: Final = "file"
RW_TIMEOUT_US: Final = 15_000_000  # ffmpeg gives up on a silent socket after 15 s (in µs)
SAMPLE_RATE: Final = 48000  # Discord's Opus clock
CHANNELS: Final = 2
FRAME_DURATION_MS: Final = 20  # one Discord voice frame
# libopus complexity for transcodes (0..10, libopus's default 10).  Measured by make bench
# (bench/transcode.py, MP3 128k -> Opus 128k): 5 costs about 10-30 % less CPU than 10 (noisy,
# shared machine) with the same signal-to-distortion ratio (27.3 vs 27.0 dB); below 5 saves more
# on paper, but the SDR cannot see what libopus's analysis stages trade away, so we stop at 5.
OPUS_COMPLEXITY: Final = 5
PAGE_DURATION_US: Final = 200_000  # Ogg pages of ~0.2 s: small bursts, quick first page

Mode = Literal["copy", "transcode"]


def resolve_ffmpeg(configured: str) -> str:
    """Turn ``[audio] ffmpeg`` into an executable path or raise FfmpegNotFoundError.

    ``"bundled"`` is imageio-ffmpeg's binary; a value with a slash is a path; anything else is
    looked up on PATH.  Call this at startup so a missing binary stops the bot early.
    """
    if configured == BUNDLED:
        try:
            path = str(imageio_ffmpeg.get_ffmpeg_exe())
        except RuntimeError as exc:
            raise FfmpegNotFoundError(configured, f"imageio-ffmpeg has no binary: {exc}") from None
    elif os.sep in configured or (os.altsep and os.altsep in configured):
        path = configured
    else:
        found = shutil.which(configured)
        if found is None:
            raise FfmpegNotFoundError(configured, "not found on PATH")
        path = found
    if not os.path.isfile(path):
        raise FfmpegNotFoundError(configured, f"no such file: {path}")
    if not os.access(path, os.X_OK):
        raise FfmpegNotFoundError(configured, f"not executable: {path}")
    return path


def choose_mode(track: Track, *, volume: int, effects: Effects = NO_EFFECTS) -> Mode:
    """Copy Opus as it is when nothing has to touch the samples; otherwise transcode."""
    if (track.codec or "").lower() == "opus" and volume == 100 and effects.empty:
        return "copy"
    return "transcode"


def _headers_arg(headers: dict[str, str]) -> str:
    # A CR or LF inside a header would let a value inject extra headers: drop such entries.
    safe = [
        f"{k}: {v}"
        for k, v in headers.items()
        if k and not any(c in k + v for c in "\r\n") and ":" not in k
    ]
    return "".join(line + "\r\n" for line in safe)


def build_argv(
    ffmpeg: str,
    track: Track,
    *,
    offset: float = 0.0,
    volume: int = 100,
    effects: Effects = NO_EFFECTS,
    bitrate_kbps: int = 128,
    trusted_local: bool = False,
    mode: Mode | None = None,
    http_proxy: str | None = None,
) -> list[str]:
    """The full argv for one source.  Raises SourceOpenError for a URL we will not open.

    ``http_proxy`` (the egress guard, :mod:`musicbot.egress`) carries every HTTP(S) request,
    redirects and reconnects included; ffmpeg tunnels HTTPS through it with CONNECT, which
    needs the ``httpproxy`` protocol on the whitelist.
    """
    url = track.stream_url
    is_http = url.startswith(("http://", "https://"))
    if not is_http and not trusted_local:
        raise SourceOpenError("not_allowed")
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    if is_http:
        if http_proxy:
            argv += ["-protocol_whitelist", NETWORK_PROTOCOLS + ",httpproxy"]
            argv += ["-http_proxy", http_proxy]
        else:
            argv += ["-protocol_whitelist", NETWORK_PROTOCOLS]
        # A host without byte ranges would answer a reconnect from the first byte: the track
        # would play again from the start, so such a stream is read once, never reconnected.
        streamed = "0" if track.seekable is False else "1"
        argv += ["-reconnect", "1", "-reconnect_streamed", streamed, "-reconnect_delay_max", "5"]
        argv += ["-rw_timeout", str(RW_TIMEOUT_US)]
        headers = _headers_arg(track.http_headers)
        if headers:
            argv += ["-headers", headers]
    else:
        argv += ["-protocol_whitelist", LOCAL_PROTOCOLS]
    # Input seeking asks the host for other byte offsets; without ranges the host sends the file
    # from its start each time (heard twice or more), so there the output side skips instead.
    seek = ["-ss", f"{offset:.3f}"] if offset > 0 else []
    before = track.seekable is not False
    argv += [*(seek if before else []), "-i", url, *([] if before else seek)]
    argv += ["-map", "0:a:0", "-vn", "-sn", "-dn"]
    mode = mode or choose_mode(track, volume=volume, effects=effects)
    if mode == "copy":
        argv += ["-c:a", "copy"]
    else:
        graph = [effects.chain()] if not effects.empty else []
        if volume != 100:
            graph.append(f"volume={volume / 100:.2f}")
        if graph:
            argv += ["-af", ",".join(graph)]
        argv += ["-c:a", "libopus", "-b:a", f"{bitrate_kbps}k", "-vbr", "on"]
        argv += ["-ar", str(SAMPLE_RATE), "-ac", str(CHANNELS)]
        argv += ["-frame_duration", str(FRAME_DURATION_MS), "-application", "audio"]
        argv += ["-compression_level", str(OPUS_COMPLEXITY)]
    argv += ["-f", "opus", "-page_duration", str(PAGE_DURATION_US), "-flush_packets", "1"]
    argv += ["pipe:1"]
    return argv


_HTTP_STATUS = re.compile(r"(?:HTTP error|Server returned) (\d{3})")
_HTTP_4XX = re.compile(r"Server returned 4XX")
_OPEN_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("not on whitelist", "not_allowed"),
    ("No such file or directory", "not_found"),
    ("Connection refused", "network"),
    ("Failed to resolve hostname", "network"),
    ("Connection timed out", "network"),
    ("Network is unreachable", "network"),
    ("Connection reset", "network"),
    ("Protocol not found", "not_allowed"),
    ("matches no streams", "no_audio"),
    ("does not contain any stream", "no_audio"),
)
_DECODE_PATTERNS: Final[tuple[str, ...]] = (
    "Invalid data found when processing input",
    "Error while decoding",
    "could not find codec parameters",
    "Could not find codec parameters",
    "Error during demuxing",
    "moov atom not found",
    "misdetection possible",
    "Error opening input: End of file",
)


def classify_failure(returncode: int, stderr: Sequence[str], *, started: bool) -> SourceError:
    """Map ffmpeg's exit status and stderr to a typed error.

    ``started`` says whether any audio came out: a signal or unexplained exit after that is a
    crash; an HTTP status is a cannot-open (also mid-track: a reconnect after the URL expired).
    """
    tail = tuple(stderr)
    text = "\n".join(tail)
    if returncode < 0:
        return SourceCrashedError(returncode, tail)
    m = _HTTP_STATUS.search(text)
    if m:
        return SourceOpenError("http_status", int(m.group(1)), tail)
    if _HTTP_4XX.search(text):
        return SourceOpenError("http_status", None, tail)
    for needle, reason in _OPEN_PATTERNS:
        if needle in text:
            return SourceOpenError(reason, None, tail)
    for needle in _DECODE_PATTERNS:
        if needle in text:
            return SourceDecodeError(needle, tail)
    if not started and not text:
        return SourceOpenError("network", None, tail)
    return SourceCrashedError(returncode, tail)
