"""RTP counters, IP discovery packing and both transport-encryption modes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicbot.emulator.voice_session import open_rtp
from musicbot.voice.rtp import (
    EncryptionMode,
    RtpPacketizer,
    TransportCipher,
    choose_mode,
    ip_discovery_request,
    ip_discovery_response,
    open_packet,
    parse_ip_discovery,
)

KEY = bytes(range(32))


def packet(p: RtpPacketizer, cipher: TransportCipher, payload: bytes) -> bytes:
    return b"".join(bytes(part) for part in p.next_packet_parts(cipher, payload))


def test_counters_wrap_around() -> None:
    cipher = TransportCipher(EncryptionMode.XCHACHA20, KEY)
    p = RtpPacketizer(ssrc=7, seq=0xFFFF, timestamp=0xFFFFFFFF - 959, nonce=0xFFFFFFFF)
    first = packet(p, cipher, b"a")
    second = packet(p, cipher, b"b")
    assert struct.unpack_from(">HII", first, 2) == (0xFFFF, 0xFFFFFFFF - 959, 7)
    assert struct.unpack_from(">HII", second, 2) == (0, 0, 7)
    assert first[-4:] == b"\xff\xff\xff\xff" and second[-4:] == b"\x00\x00\x00\x00"
    assert (p.seq, p.timestamp, p.nonce) == (1, 960, 1)


def test_skipped_frame_moves_time_not_sequence() -> None:
    p = RtpPacketizer(ssrc=1, seq=5, timestamp=100)
    p.skip_frame()
    assert (p.seq, p.timestamp) == (5, 1060)


def test_header_layout() -> None:
    cipher = TransportCipher(EncryptionMode.AES256_GCM, KEY)
    data = packet(RtpPacketizer(ssrc=0xDEADBEEF, seq=7, timestamp=6720, nonce=41), cipher, b"x")
    assert data[:12] == struct.pack(">BBHII", 0x80, 0x78, 7, 6720, 0xDEADBEEF)
    assert len(data) == 12 + 1 + 16 + 4
    assert data[-4:] == struct.pack(">I", 41)


@pytest.mark.parametrize("mode", list(EncryptionMode))
@given(payload=st.binary(min_size=1, max_size=400), nonce=st.integers(0, 2**32 - 1))
def test_round_trip_both_modes(mode: EncryptionMode, payload: bytes, nonce: int) -> None:
    cipher = TransportCipher(mode, KEY)
    data = packet(RtpPacketizer(ssrc=3, seq=9, timestamp=1, nonce=nonce), cipher, payload)
    assert open_packet(cipher, data) == (9, 1, 3, payload)
    # The emulator's independent receive code agrees.
    assert open_rtp(mode.value, KEY, data) == payload


@pytest.mark.parametrize("mode", list(EncryptionMode))
def test_tampered_header_is_rejected(mode: EncryptionMode) -> None:
    cipher = TransportCipher(mode, KEY)
    data = bytearray(packet(RtpPacketizer(ssrc=3), cipher, b"opus"))
    data[3] ^= 1  # the sequence number is authenticated as associated data
    with pytest.raises(Exception):  # noqa: B017 - nacl and cryptography raise different types
        open_packet(cipher, bytes(data))


def test_receive_side_strips_csrcs_and_extension() -> None:
    # A packet with one CSRC and a one-word header extension, as other clients may send.
    cipher = TransportCipher(EncryptionMode.XCHACHA20, KEY)
    header = struct.pack(">BBHII", 0x80 | 0x10 | 1, 0x78, 1, 2, 3) + b"CSRC" + b"\xbe\xde\x00\x01"
    plain = b"EXT!" + b"opus-payload"
    sealed = cipher.seal(header, plain, 5)
    data = header + sealed + struct.pack(">I", 5)
    assert open_packet(cipher, data)[3] == b"opus-payload"
    assert open_rtp(EncryptionMode.XCHACHA20.value, KEY, data) == b"opus-payload"


def test_mode_choice_prefers_aes() -> None:
    both = ["aead_xchacha20_poly1305_rtpsize", "aead_aes256_gcm_rtpsize", "xsalsa20_poly1305"]
    assert choose_mode(both) is EncryptionMode.AES256_GCM
    assert choose_mode(["aead_xchacha20_poly1305_rtpsize"]) is EncryptionMode.XCHACHA20
    assert choose_mode(["xsalsa20_poly1305"]) is None


def test_ip_discovery_packing() -> None:
    request = ip_discovery_request(0x01020304)
    assert len(request) == 74
    assert request[:8] == bytes([0, 1, 0, 70, 1, 2, 3, 4]) and request[8:] == bytes(66)
    response = ip_discovery_response(0x01020304, "203.0.113.7", 50004)
    assert len(response) == 74
    assert parse_ip_discovery(response) == (2, 0x01020304, "203.0.113.7", 50004)
    with pytest.raises(ValueError):
        parse_ip_discovery(response[:-1])
