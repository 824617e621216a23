"""An incremental WebM/Matroska demuxer that yields Opus packets, and reads the seek index.

Theory (RFC 8794 EBML, Matroska spec).  The file is a tree of *elements*: an ID (a variable
length integer of 1-4 bytes whose marker bit is kept as part of the ID), a size (a VINT of 1-8
bytes with the marker removed; all value bits set = "unknown size", used by live muxers for the
Segment and Clusters) and the data.  The audio lives in ``Segment/Cluster`` elements: each
Cluster has a ``Timecode`` (in ``TimecodeScale`` ns units, 1 ms by default) and ``SimpleBlock``s
(or ``BlockGroup/Block``) whose header is the track number (VINT), a signed 16-bit timecode
relative to the cluster, and a flags byte whose bits 1-2 give the lacing (none, Xiph, fixed,
EBML).  YouTube's itag 251 and ffmpeg's webm muxer put one Opus packet in each block, unlaced;
the laced forms are handled too.  ``Tracks/TrackEntry`` says which track is ``A_OPUS``.

Seeking: ``Cues/CuePoint`` map a ``CueTime`` to a ``CueClusterPosition`` (a byte offset from the
start of the Segment's data); ``SeekHead`` says where the Cues are when they are not at the
front (ffmpeg writes them after the clusters; YouTube before).  The source reads the head, gets
the Cues (by a ranged request if needed), and starts reading at the cluster at or before the
target; this demuxer then drops the blocks that end before the target (``skip_until_ns``).

Parsing never recurses: a master element we care about is *entered* (only its header is
consumed, its children follow in the stream), any other element is skipped by count without
being buffered, and only small leaves (a block is at most ``MAX_ELEMENT``) are held whole.  So
the memory used is one block plus what the last read brought, whatever the file's size.
"""

from __future__ import annotations

import struct
from typing import Final

from musicbot.audio.errors import WebmFormatError, WebmNotOpusError

EBML: Final = 0x1A45DFA3
SEGMENT: Final = 0x18538067
SEEK_HEAD: Final = 0x114D9B74
SEEK: Final = 0x4DBB
SEEK_ID: Final = 0x53AB
SEEK_POSITION: Final = 0x53AC
INFO: Final = 0x1549A966
TIMECODE_SCALE: Final = 0x2AD7B1
TRACKS: Final = 0x1654AE6B
TRACK_ENTRY: Final = 0xAE
TRACK_NUMBER: Final = 0xD7
CODEC_ID: Final = 0x86
CUES: Final = 0x1C53BB6B
CUE_POINT: Final = 0xBB
CUE_TIME: Final = 0xB3
CUE_TRACK_POSITIONS: Final = 0xB7
CUE_CLUSTER_POSITION: Final = 0xF1
CLUSTER: Final = 0x1F43B675
TIMECODE: Final = 0xE7
SIMPLE_BLOCK: Final = 0xA3
BLOCK_GROUP: Final = 0xA0
BLOCK: Final = 0xA1

OPUS_CODEC: Final = b"A_OPUS"
DEFAULT_SCALE_NS: Final = 1_000_000  # TimecodeScale default: timecodes in milliseconds
FRAME_NS: Final = 20_000_000
MAX_ELEMENT: Final = 1 << 20  # no block or header field we read is this big (bounds memory)
UNKNOWN: Final = -1

_ENTER: Final = frozenset(
    {SEGMENT, SEEK_HEAD, SEEK, INFO, TRACKS, TRACK_ENTRY, CUES, CUE_POINT, CUE_TRACK_POSITIONS}
    | {CLUSTER, BLOCK_GROUP}
)
_READ: Final = frozenset(
    {SEEK_ID, SEEK_POSITION, TIMECODE_SCALE, TRACK_NUMBER, CODEC_ID, CUE_TIME}
    | {CUE_CLUSTER_POSITION, TIMECODE, SIMPLE_BLOCK, BLOCK}
)
_INT16: Final = struct.Struct(">h")


def _vint(buf: bytearray | bytes, pos: int, end: int, *, keep_marker: bool) -> tuple[int, int]:
    """(value, length) of the VINT at ``pos``; length 0 if incomplete.  ``value`` is UNKNOWN
    for an all-ones size."""
    if pos >= end:
        return 0, 0
    first = buf[pos]
    if first == 0:
        raise WebmFormatError("invalid EBML variable-length integer", pos)
    length = 9 - first.bit_length()
    if pos + length > end:
        return 0, 0
    value = first if keep_marker else first & (0xFF >> length)
    all_ones = value == (0xFF >> length)
    for i in range(1, length):
        b = buf[pos + i]
        value = (value << 8) | b
        all_ones = all_ones and b == 0xFF
    if all_ones and not keep_marker:
        return UNKNOWN, length
    return value, length


def _uint(data: bytes | bytearray) -> int:
    return int.from_bytes(data, "big")


class WebmOpusDemuxer:
    """Feed bytes with :meth:`feed`, get Opus packets back; call :meth:`finish` at EOF.

    ``offset`` is the file offset of the first byte fed (a source that starts reading at a
    cluster passes it with ``segment_start``, known from the head it read first).
    """

    __slots__ = (
        "_buf",
        "_cue_time",
        "_entry_codec",
        "_entry_number",
        "_seek_id",
        "_skip",
        "cluster_time",
        "cues",
        "cues_position",
        "offset",
        "saw_cluster",
        "scale_ns",
        "segment_start",
        "skip_until_ns",
        "track",
    )

    def __init__(
        self, *, offset: int = 0, segment_start: int | None = None, track: int | None = None
    ) -> None:
        self._buf = bytearray()
        self.offset = offset  # file offset of _buf[0]
        self._skip = 0  # bytes of an uninteresting element still to drop
        self.segment_start = segment_start
        self.track = track  # the Opus track's number, once Tracks was read
        self.scale_ns = DEFAULT_SCALE_NS
        self.cluster_time: int | None = None
        self.cues: list[tuple[int, int]] = []  # (time ns, cluster offset from segment_start)
        self.cues_position: int | None = None  # from SeekHead, relative to segment_start
        self.saw_cluster = False
        self.skip_until_ns = 0  # drop blocks that end at or before this time
        self._seek_id = 0
        self._cue_time = 0
        self._entry_number = 0
        self._entry_codec = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Consume ``data``; return the Opus packets completed by it (maybe none)."""
        buf = self._buf
        out: list[bytes] = []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            self.offset += n
            data = data[n:]
        buf += data
        pos = 0
        end = len(buf)
        append = out.append
        try:
            while pos < end:
                # Fast path, nearly every element of a file: a run of unlaced SimpleBlocks of
                # our track with 1- or 2-byte sizes, outside a seek's skip.
                track = self.track
                if (
                    buf[pos] == 0xA3
                    and track is not None
                    and not self._skip
                    and not self.skip_until_ns
                    and self.cluster_time is not None
                ):
                    tbyte = 0x80 | track
                    view = bytes(buf) if pos == 0 else bytes(buf[pos:])  # slices are then bytes
                    base = pos
                    pos = 0
                    vend = end - base
                    while pos + 6 < vend and view[pos] == 0xA3:
                        s0 = view[pos + 1]
                        if 0x80 < s0 < 0xFF:
                            start = pos + 2
                            stop = start + s0 - 0x80
                        elif 0x40 <= s0 < 0x7F:
                            start = pos + 3
                            stop = start + (((s0 - 0x40) << 8) | view[pos + 2])
                        else:
                            break
                        if stop > vend or stop - start <= 4:
                            break
                        if view[start] != tbyte or view[start + 3] & 0x06:
                            break
                        append(view[start + 4 : stop])
                        pos = stop
                    pos += base
                    if pos >= end:
                        break
                if self._skip:
                    n = min(self._skip, end - pos)
                    self._skip -= n
                    pos += n
                    continue
                eid, idlen = _vint(buf, pos, end, keep_marker=True)
                if not idlen:
                    break
                size, sizelen = _vint(buf, pos + idlen, end, keep_marker=False)
                if not sizelen:
                    break
                start = pos + idlen + sizelen
                if eid in _ENTER:
                    self._enter(eid, self.offset + start)
                    pos = start
                    continue
                if size == UNKNOWN:
                    raise WebmFormatError(f"element {eid:#x} of unknown size", self.offset + pos)
                if eid in _READ:
                    if size > MAX_ELEMENT:
                        raise WebmFormatError(f"element {eid:#x} too large", self.offset + pos)
                    if start + size > end:
                        break
                    self._leaf(eid, buf, start, start + size, out)
                    pos = start + size
                    continue
                pos = start  # anything else (EBML header, Void, Tags, ...) is skipped by count
                self._skip = size
        finally:
            if pos:
                del buf[:pos]
                self.offset += pos
        return out

    def _enter(self, eid: int, data_start: int) -> None:
        if eid == SEGMENT:
            self.segment_start = data_start
        elif eid == CLUSTER:
            self.cluster_time = None
            self.saw_cluster = True
            self._check_track()
        elif eid == TRACK_ENTRY:
            self._entry_number, self._entry_codec = 0, b""

    def _leaf(self, eid: int, buf: bytearray, start: int, end: int, out: list[bytes]) -> None:
        if eid in (SIMPLE_BLOCK, BLOCK):
            self._block(buf, start, end, out)
        elif eid == TIMECODE:
            self.cluster_time = _uint(buf[start:end])
        elif eid == CUE_TIME:
            self._cue_time = _uint(buf[start:end]) * self.scale_ns
        elif eid == CUE_CLUSTER_POSITION:
            self.cues.append((self._cue_time, _uint(buf[start:end])))
        elif eid == TIMECODE_SCALE:
            self.scale_ns = _uint(buf[start:end]) or DEFAULT_SCALE_NS
        elif eid == TRACK_NUMBER:
            self._entry_number = _uint(buf[start:end])
            self._maybe_track()
        elif eid == CODEC_ID:
            self._entry_codec = bytes(buf[start:end]).rstrip(b"\x00")
            self._maybe_track()
        elif eid == SEEK_ID:
            self._seek_id = _uint(buf[start:end])
        elif eid == SEEK_POSITION and self._seek_id == CUES:
            self.cues_position = _uint(buf[start:end])

    def _maybe_track(self) -> None:
        if self.track is None and self._entry_number and self._entry_codec == OPUS_CODEC:
            self.track = self._entry_number

    def _check_track(self) -> None:
        if self.track is None:
            raise WebmNotOpusError("no Opus track in this WebM", self.offset)

    def _block(self, buf: bytearray, start: int, end: int, out: list[bytes]) -> None:
        track, tlen = _vint(buf, start, end, keep_marker=False)
        if not tlen or start + tlen + 3 > end:
            raise WebmFormatError("block header cut short", self.offset + start)
        if track != self.track:
            return
        if self.cluster_time is None:
            raise WebmFormatError("block before its cluster's timecode", self.offset + start)
        pos = start + tlen
        (rel,) = _INT16.unpack_from(buf, pos)
        flags = buf[pos + 2]
        pos += 3
        lacing = (flags >> 1) & 0x03
        if self.skip_until_ns:
            t = (self.cluster_time + rel) * self.scale_ns
            if t + FRAME_NS <= self.skip_until_ns:
                return
            self.skip_until_ns = 0
        if lacing == 0:
            out.append(bytes(buf[pos:end]))
            return
        count = buf[pos] + 1
        pos += 1
        sizes: list[int] = []
        if lacing == 1:  # Xiph: each size a run of 255s plus a last byte
            for _ in range(count - 1):
                size = 0
                while True:
                    if pos >= end:
                        raise WebmFormatError("lacing cut short", self.offset + pos)
                    b = buf[pos]
                    pos += 1
                    size += b
                    if b != 255:
                        break
                sizes.append(size)
        elif lacing == 3:  # EBML: first size a VINT, then signed VINT differences
            size, n = _vint(buf, pos, end, keep_marker=False)
            if not n:
                raise WebmFormatError("lacing cut short", self.offset + pos)
            pos += n
            sizes.append(size)
            for _ in range(count - 2):
                raw, n = _vint(buf, pos, end, keep_marker=False)
                if not n:
                    raise WebmFormatError("lacing cut short", self.offset + pos)
                pos += n
                size += raw - ((1 << (7 * n - 1)) - 1)
                sizes.append(size)
        else:  # fixed: equal sizes
            each, rem = divmod(end - pos, count)
            if rem:
                raise WebmFormatError("fixed lacing does not divide the block", self.offset + pos)
            sizes = [each] * (count - 1)
        for size in sizes:
            if size < 0 or pos + size > end:
                raise WebmFormatError("laced frame outside its block", self.offset + pos)
            out.append(bytes(buf[pos : pos + size]))
            pos += size
        out.append(bytes(buf[pos:end]))

    def cluster_for(self, target_ns: int) -> int | None:
        """File offset of the cluster to start at for ``target_ns`` (from the Cues), or None."""
        if not self.cues or self.segment_start is None:
            return None
        best: int | None = None
        for time_ns, position in self.cues:
            if time_ns <= target_ns and (best is None or time_ns >= best):
                best = time_ns
                chosen = position
        if best is None:
            return None
        return self.segment_start + chosen

    def finish(self) -> None:
        """Call at end of input: raise WebmFormatError if it stopped inside an element."""
        if self._buf or self._skip:
            raise WebmFormatError(
                f"stream truncated: {len(self._buf) + self._skip} bytes of an element missing",
                self.offset,
            )
        if not self.saw_cluster:
            self._check_track()
