"""What the demo's listener hears, as a live Ogg Opus stream a browser's ``<audio>`` can play.

Theory: the emulator's libdave listener keeps every Opus frame it decrypted (20 ms each).
A browser plays an Ogg Opus stream of unknown length as it arrives, so each client gets the
two header pages (RFC 7845: ``OpusHead``, ``OpusTags``) and then one page per frame, from the
frame the listener has at connect time onwards.  When the bot sends nothing (before the first
``/play``, between tracks, after ``/pause`` beyond its few silence frames) the stream is kept
running with silence frames at real-time pace, so the page stays live and the next track is
heard at once instead of after the browser's stall recovery.  Granule positions count 48 kHz
samples of what was sent, so the stream's clock is the listener's frame count.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from musicbot.emulator.recording import PRE_SKIP, SAMPLE_RATE, ogg_crc, opus_packet_samples
from musicbot.models.media import SILENCE_FRAME

FRAME_SECONDS: Final = 0.02
TICK: Final = 0.1  # seconds between polls of the listener's frames
MAX_LAG_FRAMES: Final = 10  # fill with silence once the bot has been quiet for 200 ms
FLAG_BOS: Final = 0x02
SERIAL: Final = 0x64656D6F  # "demo"


def page(packet: bytes, *, seq: int, granule: int, flags: int = 0) -> bytes:
    """One Ogg page holding one packet (RFC 3533)."""
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack(
        "<4sBBqIIIB", b"OggS", 0, flags, granule, SERIAL, seq, 0, len(lacing)
    ) + bytes(lacing)
    out = bytearray(header + packet)
    struct.pack_into("<I", out, 22, ogg_crc(bytes(out)))
    return bytes(out)


class OggOpusWriter:
    """Pages of one endless logical stream: :meth:`header` once, then :meth:`frames`."""

    def __init__(self, *, channels: int = 2) -> None:
        self.channels = channels
        self.seq = 0
        self.granule = 0
        self.sent_frames = 0

    def _next(self, packet: bytes, flags: int = 0) -> bytes:
        out = page(packet, seq=self.seq, granule=self.granule, flags=flags)
        self.seq += 1
        return out

    def header(self) -> bytes:
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, self.channels, PRE_SKIP, SAMPLE_RATE, 0, 0)
        vendor = b"musicbot demo"
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
        return self._next(head, FLAG_BOS) + self._next(tags)

    def frames(self, packets: Sequence[bytes]) -> bytes:
        out = []
        for packet in packets:
            self.granule += opus_packet_samples(packet) or 960
            self.sent_frames += 1
            out.append(self._next(packet))
        return b"".join(out)


def catch_up(writer: OggOpusWriter, fresh: Sequence[bytes], *, elapsed: float) -> tuple[bytes, int]:
    """Pages for the frames that arrived, or silence when the stream fell behind real time.

    Returns the bytes to send and how many of them were silence frames we made up.
    """
    if fresh:
        return writer.frames(fresh), 0
    due = int(elapsed / FRAME_SECONDS)
    missing = due - writer.sent_frames
    if missing <= MAX_LAG_FRAMES:
        return b"", 0
    return writer.frames([SILENCE_FRAME] * missing), missing
