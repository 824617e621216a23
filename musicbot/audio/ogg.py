"""An incremental Ogg demuxer that yields Opus packets.

Theory (RFC 3533, RFC 7845): an Ogg stream is a sequence of pages.  Each page starts with the
capture pattern ``OggS``, a version byte (0), a flags byte (0x01 = the first packet continues
one from the previous page, 0x02 = beginning of a logical stream, 0x04 = end), a 64-bit
granule position, serial number, page sequence number, CRC, and a *segment table*: one byte
per segment giving its length.  A packet is the concatenation of consecutive segments up to
and including the first one shorter than 255 ("lacing"); a packet whose last segment on a
page is 255 long continues on the next page.  So a 255-byte packet is laced as ``255, 0``.

An Ogg Opus logical stream starts with two header packets, ``OpusHead`` and ``OpusTags``
(the latter may span pages); every later packet is one Opus packet.  The demuxer drops the
two headers and yields the audio packets, re-arming at every beginning-of-stream page so a
chained stream works too.

This is on the hot path (every stream, every page), so it is a plain class fed whatever bytes
the pipe delivered: no I/O, no awaits, no per-byte Python loops.  The CRC is not checked: the
bytes come from our own ffmpeg through a local pipe, and a CRC over every page in Python would
cost more than the rest of the demuxer.  Anything that is not Ogg (wrong capture pattern or
version, a stream that is not Opus, or bytes left over at the end) raises OggFormatError.
"""

from __future__ import annotations

import struct
from typing import Final

from musicbot.audio.errors import OggFormatError

CAPTURE: Final = b"OggS"
HEADER_SIZE: Final = 27  # fixed part of a page header, before the segment table
VERSION: Final = 0  # the only Ogg version (RFC 3533 section 6)
FLAG_CONTINUED: Final = 0x01
FLAG_BOS: Final = 0x02
OPUS_HEAD: Final = b"OpusHead"  # RFC 7845 section 5.1
OPUS_TAGS: Final = b"OpusTags"  # RFC 7845 section 5.2
MAX_PACKET: Final = 1 << 20  # no Opus packet is this big; bounds memory on garbage input

_PAGE = struct.Struct("<4sBBqIIIB")


class OggOpusDemuxer:
    """Feed bytes with :meth:`feed`, get Opus packets back; call :meth:`finish` at EOF."""

    __slots__ = ("_buf", "_consumed", "_headers_left", "_partial", "granule", "pages")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0  # bytes of the stream already parsed and dropped from _buf
        self._partial: list[bytes] = []  # segments of a packet that continues on the next page
        self._headers_left = 0  # header packets still to skip in the current logical stream
        self.granule = -1  # granule position of the last complete page (-1: none yet)
        self.pages = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Consume ``data``; return the Opus audio packets completed by it (maybe none)."""
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            capture, version, flags, granule, _serial, _seq, _crc, nseg = _PAGE.unpack_from(
                buf, pos
            )
            if capture != CAPTURE:
                raise OggFormatError("missing OggS capture pattern", self._consumed + pos)
            if version != VERSION:
                raise OggFormatError(f"unsupported Ogg version {version}", self._consumed + pos)
            table_end = pos + HEADER_SIZE + nseg
            if table_end > end:
                break
            lacing = buf[pos + HEADER_SIZE : table_end]
            body_end = table_end + sum(lacing)
            if body_end > end:
                break
            self._page(bytes(buf[table_end:body_end]), flags, lacing, out)
            self.granule = granule
            self.pages += 1
            pos = body_end
        if pos:
            del buf[:pos]
            self._consumed += pos
        return out

    def _page(self, body: bytes, flags: int, lacing: bytearray, out: list[bytes]) -> None:
        """Split one page's ``body`` (copied once, then sliced) into packets."""
        if flags & FLAG_BOS:
            self._headers_left = 2
            self._partial.clear()
        elif not flags & FLAG_CONTINUED and self._partial:
            # The previous page promised a continuation that never came: drop the fragment.
            self._partial.clear()
        partial = self._partial
        # A continuation we never saw the start of (joined mid-stream) is dropped too.
        skipping = bool(flags & FLAG_CONTINUED) and not partial
        headers = self._headers_left
        pos = 0
        run = 0  # bytes of the packet being assembled on this page
        for size in lacing:
            run += size
            if size == 255:
                continue
            piece = body[pos : pos + run]
            pos += run
            run = 0
            if skipping:
                skipping = False
                continue
            if partial:
                partial.append(piece)
                piece = b"".join(partial)
                partial.clear()
            if headers:
                self._packet(piece, out)
                headers = self._headers_left
            elif piece:
                out.append(piece)
        if run and not skipping:
            partial.append(body[pos : pos + run])
            if sum(map(len, partial)) > MAX_PACKET:
                raise OggFormatError("packet larger than any Opus packet", self._consumed)

    def _packet(self, packet: bytes, out: list[bytes]) -> None:
        if self._headers_left:
            want = OPUS_HEAD if self._headers_left == 2 else OPUS_TAGS
            if not packet.startswith(want):
                raise OggFormatError(
                    f"expected {want.decode()} header, not an Ogg Opus stream", self._consumed
                )
            self._headers_left -= 1
            return
        if packet:
            out.append(packet)

    def finish(self) -> None:
        """Call at end of input: raise OggFormatError if it stopped mid-page or mid-packet."""
        if self._buf:
            raise OggFormatError(
                f"stream truncated: {len(self._buf)} bytes of an incomplete page", self._consumed
            )
        if self._partial:
            raise OggFormatError("stream truncated inside a packet", self._consumed)
