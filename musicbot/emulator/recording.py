"""Write received Opus frames to an Ogg Opus file (RFC 7845), so people and tests can hear it.

One packet per page keeps the writer trivial; granule positions count 48 kHz samples, so a
player (or ffmpeg) shows the right duration.  Pure: bytes in, bytes out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

SAMPLE_RATE: Final = 48_000
PRE_SKIP: Final = 312  # libopus's usual encoder delay at 48 kHz
_CRC_POLY: Final = 0x04C11DB7  # Ogg's CRC-32: not reflected, initial value 0


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ _CRC_POLY) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return tuple(table)


_TABLE: Final = _crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _page(packet: bytes, *, serial: int, seq: int, granule: int, flags: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack(
        "<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seq, 0, len(lacing)
    ) + bytes(lacing)
    page = bytearray(header + packet)
    struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
    return bytes(page)


def opus_packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame * count


def ogg_opus(packets: Iterable[bytes], *, channels: int = 2, serial: int = 0x6D627421) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, channels, PRE_SKIP, SAMPLE_RATE, 0, 0)
    vendor = b"musicbot emulator"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    out = [_page(head, serial=serial, seq=0, granule=0, flags=0x02)]
    out.append(_page(tags, serial=serial, seq=1, granule=0, flags=0))
    granule = 0
    items = list(packets)
    for i, packet in enumerate(items):
        granule += opus_packet_samples(packet)
        last = i == len(items) - 1
        out.append(
            _page(packet, serial=serial, seq=i + 2, granule=granule, flags=0x04 if last else 0)
        )
    return b"".join(out)
