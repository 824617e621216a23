"""Reading an Opus packet's duration from its TOC byte (RFC 6716 section 3.1).

The player sends one packet per 20 ms, so a copied (passthrough) source must be made of 20 ms
packets.  Nearly every Opus stream on the web is, but an encoder may choose 40 or 60 ms; the
source checks the first packets and asks for a transcode when they do not match.

TOC byte: ``config`` (5 bits) chooses the mode and frame size, ``s`` (1 bit) stereo, ``c``
(2 bits) the frame count code: 0 = one frame, 1 or 2 = two frames, 3 = the count is in the
low 6 bits of the next byte.
"""

from __future__ import annotations

from typing import Final

# Frame size in units of 0.5 ms... expressed in samples at 48 kHz per TOC config.
_SILK: Final = (480, 960, 1920, 2880)  # configs 0-11: 10, 20, 40, 60 ms
_HYBRID: Final = (480, 960)  # configs 12-15: 10, 20 ms
_CELT: Final = (120, 240, 480, 960)  # configs 16-31: 2.5, 5, 10, 20 ms


def packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in an Opus packet; 0 for a malformed one."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = _SILK[config % 4]
    elif config < 16:
        frame = _HYBRID[config % 2]
    else:
        frame = _CELT[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            return 0
        count = packet[1] & 0x3F
    return frame * count
