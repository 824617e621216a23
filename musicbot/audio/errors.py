"""Typed audio errors.

They carry fields (an HTTP status, ffmpeg's exit code, the last lines ffmpeg wrote to stderr),
never a stream URL: signed media URLs are long, short-lived and useless in a log line.
The commands layer picks a localized reason from the class and its fields.
"""

from __future__ import annotations

import attrs

from musicbot.errors import MusicBotError


@attrs.define(auto_exc=True, eq=False)
class AudioError(MusicBotError):
    """Base of every audio-pipeline error."""


@attrs.define(auto_exc=True, eq=False)
class FfmpegNotFoundError(AudioError):
    """``[audio] ffmpeg`` names no runnable binary.  Raised at startup, not per track."""

    configured: str
    reason: str

    def __str__(self) -> str:
        return f"ffmpeg not usable ([audio] ffmpeg = {self.configured!r}): {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class OggFormatError(AudioError):
    """The byte stream is not the Ogg Opus we asked ffmpeg for (or ended mid-page)."""

    reason: str
    offset: int

    def __str__(self) -> str:
        return f"bad Ogg stream at byte {self.offset}: {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class WebmFormatError(OggFormatError):
    """Not WebM, broken WebM (or cut short), in the same shape as the Ogg error."""

    def __str__(self) -> str:
        return f"bad WebM stream at byte {self.offset}: {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class WebmNotOpusError(WebmFormatError):
    """A valid WebM whose audio is not Opus: ffmpeg has to transcode it."""


@attrs.define(auto_exc=True, eq=False)
class SourceError(AudioError):
    """A track's audio source failed.  ``stderr_tail`` is the end of ffmpeg's stderr."""


@attrs.define(auto_exc=True, eq=False)
class SourceOpenError(SourceError):
    """The input could not be opened: HTTP 403/404 (often an expired URL), network, scheme."""

    reason: str  # "http_status" | "network" | "not_allowed" | "not_found" | "no_audio"
    status: int | None = None
    stderr_tail: tuple[str, ...] = ()

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"cannot open audio source: {self.reason}{status}"


@attrs.define(auto_exc=True, eq=False)
class SourceDecodeError(SourceError):
    """ffmpeg read the input but could not decode it."""

    detail: str
    stderr_tail: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"audio source could not be decoded: {self.detail}"


@attrs.define(auto_exc=True, eq=False)
class SourceCrashedError(SourceError):
    """ffmpeg exited abnormally (non-zero status or a signal) in the middle of a track."""

    returncode: int
    stderr_tail: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"ffmpeg exited with status {self.returncode} mid-track"


@attrs.define(auto_exc=True, eq=False)
class SourceStalledError(SourceError):
    """No audio arrived within ``timeout`` seconds."""

    timeout: float

    def __str__(self) -> str:
        return f"audio source stalled: no data for {self.timeout:g} s"


@attrs.define(auto_exc=True, eq=False)
class SourceNeedsTranscodeError(SourceError):
    """A copied Opus stream is not made of 20 ms packets; the player reopens it transcoded."""

    samples: int

    def __str__(self) -> str:
        return f"passthrough needs 20 ms packets, got {self.samples} samples per packet"
