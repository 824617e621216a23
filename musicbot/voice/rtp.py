"""RTP packetizing, transport encryption (the two "rtpsize" AEAD modes) and IP discovery.

Theory (protocol.md §2).  Each 20 ms Opus frame becomes one UDP datagram::

    header (12 B: 0x80 0x78 seq:u16 timestamp:u32 ssrc:u32) | AEAD(payload) + tag | nonce:u32

The header is the AEAD's associated data, so a receiver authenticates it.  The AEAD nonce is a
per-key u32 counter written big-endian into the *first* four bytes of an otherwise zero nonce
(12 bytes for AES-GCM, 24 for XChaCha20); those four bytes travel after the ciphertext.  seq
wraps at 2^16, timestamp and the nonce counter at 2^32; a wrapped nonce would repeat under the
same key, but that takes 2^32 frames (~2.7 years of audio) on one session key.

Two paths, one datagram.  The voice sender's hot path is :func:`send_nowait`: with AES-GCM
(the mode Discord offers, and so the one used) the C accelerator ``_rtpfast`` (built by
``make setup`` from ``_rtpfast.c``, against OpenSSL's libcrypto) builds the header, seals the
payload with a cipher context keyed once per session key and ``write()``s the datagram in one
call, about 2-3 µs per packet less than doing the same in Python.  Where the accelerator could
not be built (no C compiler or OpenSSL headers), :class:`RtpPacketizer` and :class:`AesGcmKey`
are the pure-Python :class:`PyRtpPacketizer` and :class:`PyAesGcmKey`, which produce the same
bytes (tests compare the two): preallocated header, nonce and suffix buffers rewritten with
``pack_into`` and handed to ``os.writev`` as a scatter/gather list.  XChaCha20 always takes
the Python path (:meth:`~PyRtpPacketizer.next_packet_parts` and ``cipher.seal``).
:data:`NATIVE` says which one runs (``doctor`` prints it).
"""

from __future__ import annotations

import enum
import os
import struct
import types
from typing import TYPE_CHECKING, Final, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from musicbot.models.media import SAMPLES_PER_FRAME

RTP_VERSION_BYTE: Final = 0x80  # version 2, no padding, no extension, CSRC count 0
RTP_PAYLOAD_TYPE_OPUS: Final = 0x78  # dynamic payload type 120, which Discord uses for Opus
RTP_HEADER_SIZE: Final = 12
SEQ_MODULO: Final = 1 << 16
U32_MODULO: Final = 1 << 32
TAG_SIZE: Final = 16  # Poly1305 and GCM tags are both 16 bytes
NONCE_SUFFIX_SIZE: Final = 4  # the counter bytes appended after the ciphertext
SEQ_MASK: Final = SEQ_MODULO - 1
U32_MASK: Final = U32_MODULO - 1
# Precompiled: ``struct.pack_into(fmt, ...)`` looks its format up in a cache on every call.
_pack_u32: Final = struct.Struct(">I").pack_into
_pack_seq_ts_ssrc: Final = struct.Struct(">HII").pack_into

IP_DISCOVERY_REQUEST: Final = 1
IP_DISCOVERY_RESPONSE: Final = 2
IP_DISCOVERY_SIZE: Final = 74  # type u16, length u16, ssrc u32, address 64 B, port u16
IP_DISCOVERY_LENGTH: Final = 70  # the length field counts everything after itself


class EncryptionMode(enum.StrEnum):
    AES256_GCM = "aead_aes256_gcm_rtpsize"  # preferred when offered
    XCHACHA20 = "aead_xchacha20_poly1305_rtpsize"  # always offered, must be supported


SUPPORTED_MODES: Final = (EncryptionMode.AES256_GCM, EncryptionMode.XCHACHA20)


def choose_mode(offered: list[str] | tuple[str, ...]) -> EncryptionMode | None:
    """AES-GCM when the server offers it, else XChaCha20; None if neither is offered."""
    for mode in SUPPORTED_MODES:
        if mode.value in offered:
            return mode
    return None


class Sealer(Protocol):
    """What :meth:`PyRtpPacketizer.next_packet_parts` seals with (a :class:`TransportCipher`)."""

    def seal(self, header: bytearray, payload: bytes, counter: int, /) -> bytes: ...


class PyAesGcmKey:
    """One AES-256-GCM session key: :class:`TransportCipher`'s in AES-GCM mode, and the key
    :meth:`PyRtpPacketizer.send_aes` seals with (the pure-Python twin of the accelerator's
    ``AesGcmKey``)."""

    __slots__ = ("_aes", "_nonce")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a voice session key is 32 bytes")
        self._aes = AESGCM(bytes(key))
        self._nonce = bytearray(12)

    def seal(self, header: bytes | bytearray, payload: bytes, counter: int, /) -> bytes:
        """Ciphertext + tag, nonce = ``counter`` big-endian then eight zero bytes."""
        _pack_u32(self._nonce, 0, counter)
        return self._aes.encrypt(self._nonce, payload, header)

    def decrypt(self, nonce: bytes, body: bytes, aad: bytes) -> bytes:
        """Plaintext of ``body`` (ciphertext + tag) under the full 12-byte ``nonce``."""
        return self._aes.decrypt(nonce, body, aad)


class TransportCipher:
    """AEAD for one session key.  ``seal`` and ``open`` are inverse; both modes share a shape.

    ``aes_key`` is the key :func:`send_nowait` seals with in AES-GCM mode (the accelerator's
    when it is built), ``None`` in XChaCha20 mode.
    """

    __slots__ = ("_aes", "_key", "_nonce", "aes_key", "mode")

    def __init__(self, mode: EncryptionMode, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a voice session key is 32 bytes")
        self.mode = mode
        self._key = bytes(key)
        aes = PyAesGcmKey(self._key) if mode is EncryptionMode.AES256_GCM else None
        self._aes = aes
        # The send path's key: the accelerator's own context, or this very one without it.
        self.aes_key = AesGcmKey(self._key) if aes is not None and NATIVE else aes
        self._nonce = bytearray(24)  # XChaCha20's (AES-GCM's is the key's own)

    def seal(self, header: bytes | bytearray, payload: bytes, counter: int) -> bytes:
        """Ciphertext + tag for ``payload``, with ``header`` as associated data."""
        if self._aes is not None:
            return self._aes.seal(header, payload, counter)
        _pack_u32(self._nonce, 0, counter)
        # libsodium's binding insists on ``bytes`` for every argument: two small copies.
        return crypto_aead_xchacha20poly1305_ietf_encrypt(
            payload, bytes(header), bytes(self._nonce), self._key
        )

    def open(self, aad: bytes, body: bytes, nonce4: bytes) -> bytes:
        """Decrypt ``body`` (ciphertext + tag) sealed with counter bytes ``nonce4``."""
        pad = 8 if self._aes is not None else 20
        nonce = bytes(nonce4) + bytes(pad)
        if self._aes is not None:
            return self._aes.decrypt(nonce, body, aad)
        return crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, nonce, self._key)


def open_packet(cipher: TransportCipher, packet: bytes) -> tuple[int, int, int, bytes]:
    """Receive side of "rtpsize": (seq, timestamp, ssrc, payload) of one datagram.

    The associated data is the fixed header, the CSRCs and, when the X bit is set, the 4-byte
    extension preamble; the extension body is encrypted and is dropped after decryption.
    """
    if len(packet) < RTP_HEADER_SIZE + TAG_SIZE + NONCE_SUFFIX_SIZE:
        raise ValueError("datagram too short for an encrypted RTP packet")
    first = packet[0]
    csrc_count = first & 0x0F
    has_extension = bool(first & 0x10)
    aad_size = RTP_HEADER_SIZE + 4 * csrc_count + (4 if has_extension else 0)
    seq, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
    plain = cipher.open(packet[:aad_size], packet[aad_size:-NONCE_SUFFIX_SIZE], packet[-4:])
    if has_extension:
        (words,) = struct.unpack_from(">H", packet, aad_size - 2)
        plain = plain[4 * words :]
    return seq, timestamp, ssrc, plain


class PyRtpPacketizer:
    """Sequence, timestamp and nonce counters for one outgoing stream (pure Python; the
    accelerator's ``RtpPacketizer`` has the same counters and methods).

    It outlives sockets: a resumed session continues the same seq/timestamp line, and the nonce
    counter never goes back, so it cannot repeat under a key the server kept across a resume.
    """

    __slots__ = ("_header", "_suffix", "nonce", "seq", "ssrc", "timestamp")

    def __init__(self, *, ssrc: int = 0, seq: int = 0, timestamp: int = 0, nonce: int = 0) -> None:
        self.ssrc = ssrc
        self.seq = seq % SEQ_MODULO
        self.timestamp = timestamp % U32_MODULO
        self.nonce = nonce % U32_MODULO
        self._header = bytearray(RTP_HEADER_SIZE)
        self._header[0] = RTP_VERSION_BYTE
        self._header[1] = RTP_PAYLOAD_TYPE_OPUS
        self._suffix = bytearray(NONCE_SUFFIX_SIZE)

    def next_packet_parts(
        self, cipher: Sealer, payload: bytes, /
    ) -> tuple[bytearray, bytes, bytearray]:
        """Header, sealed payload and nonce suffix of the next packet; advances all counters.

        The header and suffix are this packetizer's own buffers, rewritten by the next call:
        hand them to the socket (scatter/gather) before packetizing again.
        """
        header = self._header
        nonce = self.nonce
        _pack_seq_ts_ssrc(header, 2, self.seq, self.timestamp, self.ssrc)
        _pack_u32(self._suffix, 0, nonce)
        sealed = cipher.seal(header, payload, nonce)
        self.seq = (self.seq + 1) & SEQ_MASK
        self.timestamp = (self.timestamp + SAMPLES_PER_FRAME) & U32_MASK
        self.nonce = (nonce + 1) & U32_MASK
        return header, sealed, self._suffix

    def skip_frame(self) -> None:
        """A frame was dropped: time moves on (timestamp) but no packet was sent (seq)."""
        self.timestamp = (self.timestamp + SAMPLES_PER_FRAME) % U32_MODULO

    def send_aes(self, key: PyAesGcmKey, fd: int, payload: bytes, /) -> None:
        """Seal the next packet with ``key`` and send it on the connected socket ``fd``
        (``OSError`` when the kernel refuses it; the counters have advanced either way)."""
        os.writev(fd, self.next_packet_parts(key, bytes(payload)))


_rtpfast: types.ModuleType | None
try:
    from musicbot.voice import _rtpfast
except ImportError:  # not built (no C compiler or OpenSSL headers): the Python path
    _rtpfast = None

NATIVE: Final = _rtpfast is not None
"""Whether the C accelerator runs the AES-GCM send path."""

if TYPE_CHECKING or _rtpfast is None:
    RtpPacketizer = PyRtpPacketizer
    AesGcmKey = PyAesGcmKey
else:
    RtpPacketizer = _rtpfast.RtpPacketizer
    AesGcmKey = _rtpfast.AesGcmKey


def send_nowait(
    packetizer: RtpPacketizer, cipher: TransportCipher, fd: int, payload: bytes
) -> None:
    """Packetize, seal and send one frame on the connected non-blocking UDP socket ``fd``.

    No Trio checkpoint (the voice sender sends every stream's frame within one tick);
    ``OSError`` when the kernel refuses the datagram (``BlockingIOError``: buffer full;
    ``EBADF``: the socket was closed), ``ValueError`` when sealing fails.
    """
    key = cipher.aes_key
    if key is not None:
        packetizer.send_aes(key, fd, payload)
    else:
        os.writev(fd, packetizer.next_packet_parts(cipher, payload))


def ip_discovery_request(ssrc: int) -> bytes:
    return struct.pack(">HHI", IP_DISCOVERY_REQUEST, IP_DISCOVERY_LENGTH, ssrc) + bytes(66)


def ip_discovery_response(ssrc: int, address: str, port: int) -> bytes:
    raw = address.encode("ascii")
    if len(raw) > 63:
        raise ValueError("address too long for IP discovery")
    return (
        struct.pack(">HHI", IP_DISCOVERY_RESPONSE, IP_DISCOVERY_LENGTH, ssrc)
        + raw.ljust(64, b"\x00")
        + struct.pack(">H", port)
    )


def parse_ip_discovery(packet: bytes) -> tuple[int, int, str, int]:
    """(type, ssrc, address, port) of a 74-byte IP discovery packet."""
    if len(packet) != IP_DISCOVERY_SIZE:
        raise ValueError(f"IP discovery packet has {len(packet)} bytes, want {IP_DISCOVERY_SIZE}")
    kind, length, ssrc = struct.unpack_from(">HHI", packet, 0)
    if length != IP_DISCOVERY_LENGTH:
        raise ValueError("IP discovery length field is wrong")
    end = packet.find(b"\x00", 8, 72)
    address = packet[8 : 72 if end < 0 else end].decode("ascii")
    (port,) = struct.unpack_from(">H", packet, 72)
    return kind, ssrc, address, port
