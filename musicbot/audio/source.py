"""Audio sources: what the player pulls Opus frames from.

A source is opened by a :class:`SourceOpener` (an async context manager factory) for one
:class:`SourceRequest` (track, offset, volume) and hands out frames in chunks through
:meth:`FrameSource.receive_frames`, which returns an empty sequence at the end of the track and
raises a :class:`~musicbot.audio.errors.SourceError` when the source fails.  The player only
knows this protocol, so tests inject a synthetic source and run on a MockClock without ffmpeg.

:class:`FfmpegOpener` is the real one.  Its lifecycle guarantee: leaving the context (normal
end, error or cancellation) always reaps ffmpeg — close its stdout, SIGTERM, wait up to
``KILL_AFTER`` seconds, then SIGKILL and wait — under a shielded scope, so no zombie or orphan
survives a skip, a stop or a crash.  ffmpeg's stderr is drained continuously into a bounded
ring (so a chatty ffmpeg never blocks on a full pipe) and logged when the source fails.

``receive_frames`` is cancel-safe: its state lives in the demuxer, and a cancelled
``receive_some`` consumes nothing.
"""

from __future__ import annotations

import collections
import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, Protocol

import attrs
import structlog
import trio

from musicbot.audio.effects import NO_EFFECTS, Effects
from musicbot.audio.errors import (
    OggFormatError,
    SourceDecodeError,
    SourceNeedsTranscodeError,
    SourceStalledError,
)
from musicbot.audio.ffmpeg import Mode, build_argv, choose_mode, classify_failure, resolve_ffmpeg
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.opus import packet_samples
from musicbot.config import AudioConfig
from musicbot.models.media import SAMPLES_PER_FRAME
from musicbot.models.track import Track
from musicbot.procenv import open_ffmpeg

log = structlog.get_logger(__name__)

STALL_TIMEOUT: Final = 15.0  # seconds without a byte from ffmpeg = the source stalled
KILL_AFTER: Final = 2.0  # seconds between SIGTERM and SIGKILL
EXIT_WAIT: Final = 5.0  # after stdout EOF, how long ffmpeg may take to exit
STDERR_LINES: Final = 40  # ring buffer of ffmpeg's last stderr lines
READ_SIZE: Final = 65536
CHECK_PACKETS: Final = 5  # leading packets of a copied stream that must be 20 ms


@attrs.frozen(kw_only=True)
class SourceRequest:
    track: Track
    offset: float = 0.0  # seconds into the track
    volume: int = 100  # percent
    effects: Effects = NO_EFFECTS  # /filter and /eq (any effect transcodes)
    transcode: bool = False  # never copy, even an Opus source


class FrameSource(Protocol):
    """An open source of Opus frames, read by the player at its own pace."""

    async def receive_frames(self) -> Sequence[bytes]:
        """The next Opus frames (one or more); empty at the end; raises SourceError."""
        ...


class SourceOpener(Protocol):
    """Opens a :class:`FrameSource` for a request, as an async context manager that closes it."""

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FrameSource]: ...


class FfmpegSource:
    """One running ffmpeg; frames come from its stdout through the Ogg demuxer."""

    def __init__(
        self,
        process: trio.Process,
        mode: Mode,
        stderr: collections.deque[str],
        stderr_done: trio.Event,
        stall_timeout: float,
    ) -> None:
        assert process.stdout is not None
        self.process = process
        self.mode = mode
        self._stdout = process.stdout
        self._stderr = stderr
        self._stderr_done = stderr_done
        self._stall = stall_timeout
        self._demux = OggOpusDemuxer()
        self._frames = 0
        self._ended = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stderr_tail(self) -> tuple[str, ...]:
        return tuple(self._stderr)

    async def receive_frames(self) -> Sequence[bytes]:
        if self._ended:
            return ()
        while True:
            with trio.move_on_after(self._stall) as cs:
                data = await self._stdout.receive_some(READ_SIZE)
            if cs.cancelled_caught:
                raise SourceStalledError(self._stall)
            if not data:
                return await self._at_eof()
            try:
                frames = self._demux.feed(data)
            except OggFormatError as exc:
                raise SourceDecodeError(str(exc), self.stderr_tail) from exc
            if frames:
                if self._frames == 0 and self.mode == "copy":
                    self._check_passthrough(frames)
                self._frames += len(frames)
                return frames

    def _check_passthrough(self, frames: Sequence[bytes]) -> None:
        for frame in frames[:CHECK_PACKETS]:
            samples = packet_samples(frame)
            if samples != SAMPLES_PER_FRAME:
                raise SourceNeedsTranscodeError(samples)

    async def _at_eof(self) -> Sequence[bytes]:
        self._ended = True
        with trio.move_on_after(EXIT_WAIT):
            await self.process.wait()
        with trio.move_on_after(1.0):
            await self._stderr_done.wait()  # so the classification sees the last lines
        code = self.process.returncode
        if code is None or code != 0:
            raise classify_failure(
                -9 if code is None else code, self.stderr_tail, started=self._frames > 0
            )
        try:
            self._demux.finish()
        except OggFormatError as exc:
            raise SourceDecodeError(str(exc), self.stderr_tail) from exc
        return ()


_URL = re.compile(rb"[a-z]+://\S+")


def _clean(line: bytes) -> str:
    """One stderr line for logs: URLs (signed, long, user-specific) become ``<url>``."""
    return _URL.sub(b"<url>", line).decode("utf-8", "replace").rstrip()


async def _drain_stderr(
    stream: trio.abc.ReceiveStream, ring: collections.deque[str], done: trio.Event
) -> None:
    pending = b""
    try:
        while chunk := await stream.receive_some(8192):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            ring.extend(_clean(line) for line in lines if line)
            pending = pending[-4096:]  # a line without a newline cannot grow forever
        if pending:
            ring.append(_clean(pending))
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        pass
    finally:
        done.set()


async def reap(process: trio.Process, *, kill_after: float = KILL_AFTER) -> None:
    """Stop ``process`` for sure: SIGTERM, wait, SIGKILL, wait.  Shielded from cancellation."""
    with trio.CancelScope(shield=True):
        if process.stdout is not None:
            await process.stdout.aclose()  # a writer on a closed pipe dies of EPIPE anyway
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(kill_after):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        if process.stderr is not None:
            await process.stderr.aclose()


@asynccontextmanager
async def open_ffmpeg_source(
    ffmpeg: str,
    request: SourceRequest,
    *,
    bitrate_kbps: int = 128,
    trusted_local: bool = False,
    stall_timeout: float = STALL_TIMEOUT,
    mode: Mode | None = None,
    http_proxy: str | None = None,
) -> AsyncIterator[FfmpegSource]:
    """Run ffmpeg for ``request`` and yield the source; reap ffmpeg on exit, always."""
    if mode is None:
        mode = (
            "transcode"
            if request.transcode
            else choose_mode(request.track, volume=request.volume, effects=request.effects)
        )
    argv = build_argv(
        ffmpeg,
        request.track,
        offset=request.offset,
        volume=request.volume,
        effects=request.effects,
        bitrate_kbps=bitrate_kbps,
        trusted_local=trusted_local,
        mode=mode,
        http_proxy=http_proxy,
    )
    # Niced, token-free: encoding may be late; pacing (and the gateway heartbeat) must not be.
    process = await open_ffmpeg(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ring: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
    stderr_done = trio.Event()
    source = FfmpegSource(process, mode, ring, stderr_done, stall_timeout)
    log.debug("ffmpeg_started", pid=process.pid, mode=mode, offset=request.offset)
    # A body error is held and re-raised after the nursery, so callers see the SourceError
    # itself rather than an ExceptionGroup around it.
    error: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            assert process.stderr is not None
            nursery.start_soon(_drain_stderr, process.stderr, ring, stderr_done)
            try:
                yield source
            except Exception as exc:
                error = exc
            finally:
                await reap(process)
    finally:
        log.debug("ffmpeg_reaped", pid=process.pid, returncode=process.returncode)
    if error is not None:
        log.warning(
            "ffmpeg_failed",
            pid=process.pid,
            returncode=process.returncode,
            error=repr(error),
            stderr=list(ring)[-10:],
        )
        raise error


@attrs.frozen(kw_only=True)
class FfmpegOpener:
    """The real :class:`SourceOpener`.  Build it with :meth:`from_config` at startup."""

    ffmpeg: str
    bitrate_kbps: int = 128
    trusted_local: bool = False  # only the bench, tests and bundled demo tracks set this
    stall_timeout: float = STALL_TIMEOUT
    http_proxy: str | None = None  # the egress guard's URL when it runs (musicbot.egress)

    @classmethod
    def from_config(cls, audio: AudioConfig, *, trusted_local: bool = False) -> FfmpegOpener:
        """Resolve ``[audio] ffmpeg`` now; raises FfmpegNotFoundError if it is not usable."""
        return cls(
            ffmpeg=resolve_ffmpeg(audio.ffmpeg),
            bitrate_kbps=audio.bitrate,
            trusted_local=trusted_local,
        )

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FfmpegSource]:
        return open_ffmpeg_source(
            self.ffmpeg,
            request,
            bitrate_kbps=self.bitrate_kbps,
            trusted_local=self.trusted_local,
            stall_timeout=self.stall_timeout,
            http_proxy=self.http_proxy,
        )
