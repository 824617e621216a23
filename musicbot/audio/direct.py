"""Opus without ffmpeg: WebM or Ogg Opus fetched over HTTP and demuxed in this process.

Theory.  When the source is already Opus and nothing changes the samples (volume 100 %, no
filter), ffmpeg would only copy packets out of a container: a whole process (8-11 MB) per
stream for a job that costs the demuxers here a fraction of a microsecond per packet.  So
:class:`DirectOpener` sends such requests to :class:`DirectOpusSource` and everything else to
its ``fallback`` (the ffmpeg opener): other codecs, volume != 100 %, live streams, and any
source that turns out not to be 20 ms Opus in WebM or Ogg (the source then raises
``SourceNeedsTranscodeError`` before its first frame and the player reopens it transcoded).

Opening: the first bytes decide the container (EBML magic or ``OggS``).  Seeking in WebM reads
the head up to the first Cluster (Tracks, and the Cues when they are in front), fetches the
Cues where the SeekHead says if not, and starts reading at the cluster at or before the
target; blocks that end before the target are dropped, so playback starts within one frame of
it.  Seeking in Ogg bisects on the pages' granule positions (ranged probes of 64 KiB) when the
size is known, then drops the packets before the target (every packet is 20 ms).  Reading is
:class:`~musicbot.audio.httpread.RangeReader`'s: ranged requests, resume at the byte after a
drop, fresh URL after a 403.
"""

from __future__ import annotations

import contextlib
import ssl
import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

import attrs
import httpx

from musicbot.audio.errors import (
    OggFormatError,
    SourceDecodeError,
    SourceNeedsTranscodeError,
    WebmNotOpusError,
)
from musicbot.audio.httpread import CHUNK, STALL, RangeReader, Refresh, ssl_context
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.opus import packet_samples
from musicbot.audio.source import FrameSource, SourceOpener, SourceRequest
from musicbot.audio.webm import WebmOpusDemuxer, _vint
from musicbot.models.media import SAMPLES_PER_FRAME

WEBM_MAGIC: Final = b"\x1a\x45\xdf\xa3"
OGG_MAGIC: Final = b"OggS"
HEAD_LIMIT: Final = 2 << 20  # bytes before the first Cluster we accept (Tracks, Cues, tags)
CUES_READ: Final = 256 << 10  # bytes fetched at the Cues' position (an hour of cues is ~20 KB)
CHECK_PACKETS: Final = 5
BISECT_WINDOW: Final = 64 << 10  # bytes read per bisection probe (an Ogg page is < 64 KiB)
_GRANULE: Final = struct.Struct("<q")
FRAME_S: Final = SAMPLES_PER_FRAME / 48000


class DirectOpusSource:
    """Frames of one remote WebM/Ogg Opus file; call :meth:`start` once, then read."""

    def __init__(self, reader: RangeReader, offset: float) -> None:
        self.reader = reader
        self.offset = max(0.0, offset)
        self.container = ""
        self._demux: WebmOpusDemuxer | OggOpusDemuxer | None = None
        self._pending: list[bytes] = []
        self._drop = 0  # Ogg: packets before the seek target still to drop
        self._checked = False
        self._ended = False

    async def start(self) -> None:
        head = b""
        while len(head) < 4:
            data = await self.reader.read()
            if not data:
                break
            head += data
        if head.startswith(WEBM_MAGIC):
            self.container = "webm"
            await self._start_webm(head)
        elif head.startswith(OGG_MAGIC):
            self.container = "ogg"
            self._demux = OggOpusDemuxer()
            self._drop = int(self.offset / FRAME_S + 1e-9)
            self._pending = self._feed(head)
            size = self.reader.size
            if self._drop and size is not None and size - self.reader.pos > 2 * BISECT_WINDOW:
                await self._bisect_ogg(size)
        else:
            raise SourceNeedsTranscodeError(0)  # not a container we demux: ffmpeg's job

    async def _bisect_ogg(self, size: int) -> None:
        """Start near the target instead of downloading everything before it.

        Granule positions count samples from the stream's start (0 for every encoder we meet,
        pre-skip included), and every packet is 960 samples, so a page with granule ``g``
        completes packet ``g / 960``.  Bisection on byte offsets finds the last page whose
        granule is at most the target; reading starts at the page after it (a fresh demuxer,
        already past the headers), and the packets between that granule and the target are
        dropped.  A packet continued from the page before is skipped by the demuxer, so it is
        not counted.
        """
        target = self._drop * SAMPLES_PER_FRAME
        head_end = lo = self.reader.pos
        hi = size
        best: tuple[int, int, bool] | None = None  # (next page offset, granule, continued)
        while hi - lo > BISECT_WINDOW:
            mid = (lo + hi) // 2
            page = await self._page_after(mid)
            if page is None or page[1] > target:
                hi = mid
            else:
                best, lo = page, page[0]
        if best is None:
            await self.reader.seek(head_end)  # no page before the target: read on, dropping
            return
        start, granule, continued = best
        self._demux = OggOpusDemuxer()
        self._pending = []
        self._drop = max(0, (target - granule) // SAMPLES_PER_FRAME - (1 if continued else 0))
        await self.reader.seek(start)

    async def _page_after(self, pos: int) -> tuple[int, int, bool] | None:
        """(offset of the page after it, granule, that page continues a packet) of the first
        complete page with a granule at or after ``pos``; None if there is none in reach."""
        blob = await self.reader.fetch(pos, BISECT_WINDOW)
        i = blob.find(OGG_MAGIC)
        while i >= 0 and i + 27 <= len(blob):
            version, granule = blob[i + 4], _GRANULE.unpack_from(blob, i + 6)[0]
            nseg = blob[i + 26]
            end = i + 27 + nseg
            if version == 0 and end <= len(blob):
                end += sum(blob[i + 27 : i + 27 + nseg])
                follows = blob[end : end + 4] == OGG_MAGIC
                if end + 6 <= len(blob) and follows and granule != -1:
                    return pos + end, granule, bool(blob[end + 5] & 0x01)
            i = blob.find(OGG_MAGIC, i + 1)
        return None

    async def _start_webm(self, head: bytes) -> None:
        demux = WebmOpusDemuxer()
        target = int(self.offset * 1e9)
        demux.skip_until_ns = target
        self._demux = demux
        frames = self._feed(head)
        while not demux.saw_cluster:
            data = await self.reader.read()
            if not data:
                break
            frames += self._feed(data)
            if self.reader.pos > HEAD_LIMIT and not demux.saw_cluster:
                raise SourceDecodeError("no audio cluster near the start of the WebM file")
        if target and demux.skip_until_ns:
            head_end = self.reader.pos
            cluster = demux.cluster_for(target)
            if cluster is None:
                cluster = await self._cluster_from_cues(demux, target)
            if cluster is None or cluster < head_end:
                await self.reader.seek(head_end)  # read on from the head, dropping blocks
            else:
                await self.reader.seek(cluster)
                seeked = WebmOpusDemuxer(
                    offset=cluster, segment_start=demux.segment_start, track=demux.track
                )
                seeked.scale_ns, seeked.skip_until_ns = demux.scale_ns, target
                seeked.saw_cluster = True
                self._demux, frames = seeked, []
        self._pending = frames

    async def _cluster_from_cues(self, demux: WebmOpusDemuxer, target: int) -> int | None:
        if demux.cues_position is None or demux.segment_start is None:
            return None
        at = demux.segment_start + demux.cues_position
        blob = await self.reader.fetch(at, CUES_READ)
        eid, n = _vint(blob, 0, len(blob), keep_marker=True)
        if not n or eid != 0x1C53BB6B:
            return None  # the SeekHead pointed elsewhere: read on and drop instead
        cues = WebmOpusDemuxer(offset=at, segment_start=demux.segment_start, track=demux.track)
        cues.scale_ns = demux.scale_ns
        with contextlib.suppress(OggFormatError):
            cues.feed(blob)  # what follows the Cues in the blob may be cut anywhere
        return cues.cluster_for(target)

    def _feed(self, data: bytes) -> list[bytes]:
        assert self._demux is not None
        try:
            return self._demux.feed(data)
        except WebmNotOpusError:
            raise SourceNeedsTranscodeError(0) from None
        except OggFormatError as exc:
            raise SourceDecodeError(str(exc)) from exc

    async def receive_frames(self) -> Sequence[bytes]:
        while True:
            if self._pending:
                frames, self._pending = self._pending, []
            elif self._ended:
                return ()
            else:
                data = await self.reader.read()
                if not data:
                    self._ended = True
                    assert self._demux is not None
                    try:
                        self._demux.finish()
                    except WebmNotOpusError:
                        raise SourceNeedsTranscodeError(0) from None
                    except OggFormatError as exc:
                        raise SourceDecodeError(str(exc)) from exc
                    return ()
                frames = self._feed(data)
            if self._drop and frames:
                n = min(self._drop, len(frames))
                self._drop -= n
                frames = frames[n:]
            if frames:
                if not self._checked:
                    self._checked = True
                    for frame in frames[:CHECK_PACKETS]:
                        if packet_samples(frame) != SAMPLES_PER_FRAME:
                            raise SourceNeedsTranscodeError(packet_samples(frame))
                return frames


@attrs.frozen(kw_only=True)
class DirectOpener:
    """The :class:`SourceOpener` in front of ffmpeg: in-process Opus when it can, else
    ``fallback``.  ``proxy`` is the egress guard's URL (or the operator's proxy)."""

    fallback: SourceOpener
    proxy: str | None = None
    refresh: Refresh | None = None
    chunk: int = CHUNK
    stall: float = STALL
    ssl: ssl.SSLContext = attrs.field(factory=ssl_context, repr=False)

    def wants(self, request: SourceRequest) -> bool:
        track = request.track
        return (
            not request.transcode
            and request.volume == 100
            and request.effects.empty
            and (track.codec or "").lower() == "opus"
            and not track.is_live
            and track.stream_url.startswith(("http://", "https://"))
        )

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FrameSource]:
        if self.wants(request):
            return self._open(request)
        return self.fallback(request)

    @asynccontextmanager
    async def _open(self, request: SourceRequest) -> AsyncIterator[FrameSource]:
        async with httpx.AsyncClient(
            verify=self.ssl,
            proxy=self.proxy,
            trust_env=False,
            follow_redirects=True,
            max_redirects=5,
            timeout=httpx.Timeout(self.stall),
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
        ) as client:
            reader = RangeReader(
                client, request.track, refresh=self.refresh, chunk=self.chunk, stall=self.stall
            )
            try:
                source = DirectOpusSource(reader, request.offset)
                await source.start()
                yield source
            finally:
                await reader.aclose()
