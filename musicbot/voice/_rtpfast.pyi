"""Type stub of the C accelerator musicbot/voice/_rtpfast.c (see its header comment)."""

from typing import Protocol

OPENSSL_VERSION: str

class _Sealer(Protocol):
    def seal(self, header: bytearray, payload: bytes, counter: int, /) -> bytes: ...

class AesGcmKey:
    def __init__(self, key: bytes) -> None: ...

class RtpPacketizer:
    ssrc: int
    seq: int
    timestamp: int
    nonce: int
    def __init__(
        self, *, ssrc: int = 0, seq: int = 0, timestamp: int = 0, nonce: int = 0
    ) -> None: ...
    def next_packet_parts(
        self, cipher: _Sealer, payload: bytes, /
    ) -> tuple[bytearray, bytes, bytearray]: ...
    def skip_frame(self) -> None: ...
    def send_aes(self, key: AesGcmKey, fd: int, payload: bytes, /) -> None: ...
