"""RTP counters, IP discovery packing and both transport-encryption modes, on both packetizers:
the pure-Python one and the C accelerator's (musicbot/voice/_rtpfast.c), which must agree byte
for byte."""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.emulator.voice_session import open_rtp
from musicbot.voice import rtp
from musicbot.voice.rtp import (
    EncryptionMode,
    PyAesGcmKey,
    PyRtpPacketizer,
    TransportCipher,
    choose_mode,
    ip_discovery_request,
    ip_discovery_response,
    open_packet,
    parse_ip_discovery,
    send_nowait,
)

KEY = bytes(range(32))

try:
    from musicbot.voice import _rtpfast
except ImportError:  # the test below fails; the C cases report it too
    _rtpfast = None  # type: ignore[assignment]

IMPLS = ["python", "c"]


def packetizer_class(impl: str) -> Callable[..., Any]:
    if impl == "python":
        return PyRtpPacketizer
    if _rtpfast is None:
        pytest.fail("the C accelerator musicbot.voice._rtpfast is not built (make setup)")
    return _rtpfast.RtpPacketizer


def key_class(impl: str) -> Callable[[bytes], Any]:
    if impl == "python":
        return PyAesGcmKey
    if _rtpfast is None:
        pytest.fail("the C accelerator musicbot.voice._rtpfast is not built (make setup)")
    return _rtpfast.AesGcmKey


@pytest.fixture(params=IMPLS)
def make_packetizer(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return packetizer_class(request.param)


def packet(p: Any, cipher: TransportCipher, payload: bytes) -> bytes:
    return b"".join(bytes(part) for part in p.next_packet_parts(cipher, payload))


def test_the_c_accelerator_is_built_and_used() -> None:
    # make setup builds it (gcc and OpenSSL's headers come with the project's system packages);
    # a silent fallback would cost every packet 2-3 µs of CPU.
    assert _rtpfast is not None, "musicbot.voice._rtpfast is not built: run make setup"
    assert rtp.NATIVE
    assert rtp.RtpPacketizer is _rtpfast.RtpPacketizer
    assert isinstance(TransportCipher(EncryptionMode.AES256_GCM, KEY).aes_key, _rtpfast.AesGcmKey)
    assert TransportCipher(EncryptionMode.XCHACHA20, KEY).aes_key is None


def test_counters_wrap_around(make_packetizer: Callable[..., Any]) -> None:
    cipher = TransportCipher(EncryptionMode.XCHACHA20, KEY)
    p = make_packetizer(ssrc=7, seq=0xFFFF, timestamp=0xFFFFFFFF - 959, nonce=0xFFFFFFFF)
    first = packet(p, cipher, b"a")
    second = packet(p, cipher, b"b")
    assert struct.unpack_from(">HII", first, 2) == (0xFFFF, 0xFFFFFFFF - 959, 7)
    assert struct.unpack_from(">HII", second, 2) == (0, 0, 7)
    assert first[-4:] == b"\xff\xff\xff\xff" and second[-4:] == b"\x00\x00\x00\x00"
    assert (p.seq, p.timestamp, p.nonce) == (1, 960, 1)


def test_skipped_frame_moves_time_not_sequence(make_packetizer: Callable[..., Any]) -> None:
    p = make_packetizer(ssrc=1, seq=5, timestamp=100)
    p.skip_frame()
    assert (p.seq, p.timestamp) == (5, 1060)


def test_header_layout(make_packetizer: Callable[..., Any]) -> None:
    cipher = TransportCipher(EncryptionMode.AES256_GCM, KEY)
    data = packet(make_packetizer(ssrc=0xDEADBEEF, seq=7, timestamp=6720, nonce=41), cipher, b"x")
    assert data[:12] == struct.pack(">BBHII", 0x80, 0x78, 7, 6720, 0xDEADBEEF)
    assert len(data) == 12 + 1 + 16 + 4
    assert data[-4:] == struct.pack(">I", 41)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", list(EncryptionMode))
@given(payload=st.binary(min_size=1, max_size=400), nonce=st.integers(0, 2**32 - 1))
def test_round_trip_both_modes(impl: str, mode: EncryptionMode, payload: bytes, nonce: int) -> None:
    cipher = TransportCipher(mode, KEY)
    p = packetizer_class(impl)(ssrc=3, seq=9, timestamp=1, nonce=nonce)
    data = packet(p, cipher, payload)
    assert open_packet(cipher, data) == (9, 1, 3, payload)
    # The emulator's independent receive code agrees.
    assert open_rtp(mode.value, KEY, data) == payload


@pytest.mark.parametrize("mode", list(EncryptionMode))
def test_tampered_header_is_rejected(
    mode: EncryptionMode,
    make_packetizer: Callable[..., Any],
) -> None:
    cipher = TransportCipher(mode, KEY)
    data = bytearray(packet(make_packetizer(ssrc=3), cipher, b"opus"))
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


# -- the send path: one datagram per call, on a real loopback socket ------------------------


@pytest.fixture
def udp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(receiver, connected non-blocking sender) on 127.0.0.1."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        tx.connect(rx.getsockname())
        tx.setblocking(False)
        yield rx, tx
    finally:
        rx.close()
        tx.close()


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(
        st.one_of(st.binary(max_size=1400), st.binary(min_size=2030, max_size=6000)),
        min_size=1,
        max_size=4,
    ),
    ssrc=st.integers(0, 2**32 - 1),
    seq=st.integers(0, 2**16 - 1),
    timestamp=st.integers(0, 2**32 - 1),
    nonce=st.integers(0, 2**32 - 1),
)
def test_c_and_python_send_the_same_datagrams(
    payloads: list[bytes], ssrc: int, seq: int, timestamp: int, nonce: int
) -> None:
    # Payloads past 2 KiB take the C path's heap buffer; counters anywhere, wraps included.
    start = {"ssrc": ssrc, "seq": seq, "timestamp": timestamp, "nonce": nonce}
    got: dict[str, list[bytes]] = {}
    for impl in IMPLS:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with rx, tx:
            rx.bind(("127.0.0.1", 0))
            rx.settimeout(5)
            tx.connect(rx.getsockname())
            p = packetizer_class(impl)(**start)
            key = key_class(impl)(KEY)
            for payload in payloads:
                p.send_aes(key, tx.fileno(), payload)
            got[impl] = [rx.recv(65536) for _ in payloads]
            want = len(payloads)
            assert (p.seq, p.timestamp, p.nonce) == (
                (seq + want) % 2**16,
                (timestamp + 960 * want) % 2**32,
                (nonce + want) % 2**32,
            )
    assert got["c"] == got["python"]
    cipher = TransportCipher(EncryptionMode.AES256_GCM, KEY)
    for i, (payload, data) in enumerate(zip(payloads, got["c"], strict=True)):
        assert open_packet(cipher, data) == (
            (seq + i) % 2**16,
            (timestamp + 960 * i) % 2**32,
            ssrc,
            payload,
        )
        assert open_rtp(EncryptionMode.AES256_GCM.value, KEY, data) == payload


@pytest.mark.parametrize("mode", list(EncryptionMode))
def test_send_nowait_takes_the_modes_path(
    mode: EncryptionMode, udp_pair: tuple[socket.socket, socket.socket]
) -> None:
    rx, tx = udp_pair
    cipher = TransportCipher(mode, KEY)
    p = rtp.RtpPacketizer(ssrc=9, seq=1, timestamp=2, nonce=3)
    send_nowait(p, cipher, tx.fileno(), b"frame")
    assert open_packet(cipher, rx.recv(2048)) == (1, 2, 9, b"frame")
    assert open_rtp(mode.value, KEY, rx_packet := _resend(p, cipher, tx, rx)) == b"again"
    assert struct.unpack_from(">H", rx_packet, 2) == (2,)


def _resend(p: Any, cipher: TransportCipher, tx: socket.socket, rx: socket.socket) -> bytes:
    send_nowait(p, cipher, tx.fileno(), b"again")
    return rx.recv(2048)


@pytest.mark.parametrize("impl", IMPLS)
def test_a_refused_send_raises_and_never_reuses_a_nonce(impl: str) -> None:
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(("127.0.0.1", 9))
    fd = tx.fileno()
    tx.close()  # a rejoin closed the socket under the sender: EBADF
    p = packetizer_class(impl)(ssrc=1, seq=10, timestamp=0, nonce=77)
    with pytest.raises(OSError) as raised:
        p.send_aes(key_class(impl)(KEY), fd, b"x")
    assert raised.value.errno == errno.EBADF
    # The packet is lost, its nonce spent: the next one is sealed with 78, never 77 again.
    assert (p.seq, p.nonce) == (11, 78)
    with pytest.raises(OSError):
        p.send_aes(key_class(impl)(KEY), -1, b"x")


def test_c_path_refuses_what_cannot_be_one_datagram(
    udp_pair: tuple[socket.socket, socket.socket],
) -> None:
    p = packetizer_class("c")(ssrc=1)
    key = key_class("c")(KEY)
    with pytest.raises(ValueError):
        p.send_aes(key, udp_pair[1].fileno(), bytes(65507 - 31))
    with pytest.raises(TypeError):
        p.send_aes(PyAesGcmKey(KEY), udp_pair[1].fileno(), b"x")  # another kind of key
    p.send_aes(key, udp_pair[1].fileno(), memoryview(b"a buffer"))  # any bytes-like payload
    data = udp_pair[0].recv(2048)
    assert open_packet(TransportCipher(EncryptionMode.AES256_GCM, KEY), data)[3] == b"a buffer"


@pytest.mark.parametrize("impl", IMPLS)
def test_keys_are_32_bytes(impl: str) -> None:
    with pytest.raises(ValueError):
        key_class(impl)(bytes(31))


@given(
    ssrc=st.integers(-(2**40), 2**40),
    seq=st.integers(-(2**20), 2**20),
    timestamp=st.integers(-(2**40), 2**40),
    nonce=st.integers(-(2**40), 2**40),
)
def test_c_counters_reduce_like_python(ssrc: int, seq: int, timestamp: int, nonce: int) -> None:
    py = PyRtpPacketizer(ssrc=ssrc, seq=seq, timestamp=timestamp, nonce=nonce)
    c = packetizer_class("c")(ssrc=ssrc, seq=seq, timestamp=timestamp, nonce=nonce)
    assert (c.seq, c.timestamp, c.nonce) == (py.seq, py.timestamp, py.nonce)
    assert c.ssrc == ssrc % 2**32  # the connection assigns the transport's (always in range)
    c.ssrc = 0xCAFEBABE
    assert c.ssrc == 0xCAFEBABE
    with pytest.raises(TypeError):
        c.seq = "1"
    with pytest.raises(AttributeError):
        del c.nonce


def test_c_packetizer_survives_hostile_use_of_its_buffers() -> None:
    # next_packet_parts hands out its own header and suffix buffers: a caller that resizes
    # them, or an object made without __init__, must get fresh buffers, never a write past
    # the end of one (the pure-Python twin raises instead; either way nothing is corrupted).
    cipher = TransportCipher(EncryptionMode.AES256_GCM, KEY)
    c = packetizer_class("c")(ssrc=5)
    header, _, suffix = c.next_packet_parts(cipher, b"one")
    header.clear()
    suffix.extend(b"more")
    data = packet(c, cipher, b"two")
    assert open_packet(cipher, data) == (1, 960, 5, b"two")
    assert len(header) == 0 and len(suffix) == 8  # the caller's objects are left as they are
    bare = type(c).__new__(type(c))
    assert open_packet(cipher, packet(bare, cipher, b"x")) == (0, 0, 0, b"x")
    unkeyed = type(key_class("c")(KEY)).__new__(type(key_class("c")(KEY)))
    with pytest.raises(ValueError, match="never initialised"):
        c.send_aes(unkeyed, 0, b"x")
