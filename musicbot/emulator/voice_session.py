"""The emulator voice server's per-session state and its own "rtpsize" receive code.

``open_rtp`` is written independently of the bot's ``musicbot.voice.rtp`` so that a bug there
cannot hide itself by being mirrored here.
"""

from __future__ import annotations

import json
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import attrs
import trio
import trio_websocket
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

MODE_AES: Final = "aead_aes256_gcm_rtpsize"
MODE_XCHACHA: Final = "aead_xchacha20_poly1305_rtpsize"

LOG_SIZE: Final = 1024  # sequenced messages kept for buffered resume


@attrs.define(eq=False, kw_only=True)
class ServerSession:
    """One voice session (one token); outlives its sockets so it can be resumed."""

    guild_id: int
    channel_id: int
    user_id: int
    session_id: str
    token: str = attrs.field(repr=False)
    ssrc: int
    mode: str | None = None
    key: bytes | None = attrs.field(default=None, repr=False)
    seq: int = 0
    log: deque[tuple[int, str | bytes]] = attrs.Factory(lambda: deque(maxlen=LOG_SIZE))
    identified: bool = False
    socket: ServerSocket | None = None
    received: list[int] = attrs.Factory(list)  # every client opcode, in order
    speaking: list[int] = attrs.Factory(list)  # op 5 flags
    heartbeat_seq_acks: list[int] = attrs.Factory(list)
    udp_address: tuple[str, int] | None = None
    packets: int = 0
    auth_failures: int = 0
    changed: Callable[[], None] = lambda: None

    def queue_json(self, op: int, d: Any) -> None:
        self.seq += 1
        self._append(json.dumps({"op": op, "d": d, "seq": self.seq}))

    def queue_binary(self, op: int, body: bytes) -> None:
        self.seq += 1
        self._append(struct.pack(">HB", self.seq & 0xFFFF, op) + body)

    def _append(self, message: str | bytes) -> None:
        self.log.append((self.seq, message))
        self.changed()


@attrs.define(eq=False)
class ServerSocket:
    id: int
    ws: trio_websocket.WebSocketConnection
    stream: trio.abc.Stream  # the TCP stream under TLS and WebSocket (dropped to "crash")
    cursor: int = 0
    endpoint: str = ""  # the endpoint it came to
    session: ServerSession | None = None  # once identified or resumed
    closed_by_server: bool = False  # we closed it (a fault or a refusal), not the client
    recorded: bool = False  # its close is in ``VoiceServer.client_closes``


def open_rtp(mode: str, key: bytes, packet: bytes) -> bytes:
    """Decrypt one "rtpsize" datagram (the emulator's own code, not the bot's)."""
    csrc = packet[0] & 0x0F
    extended = bool(packet[0] & 0x10)
    header_end = 12 + 4 * csrc + (4 if extended else 0)
    aad, body, counter = packet[:header_end], packet[header_end:-4], packet[-4:]
    if mode == MODE_AES:
        plain = AESGCM(key).decrypt(counter + bytes(8), body, aad)
    else:
        plain = crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, counter + bytes(20), key)
    if extended:
        (words,) = struct.unpack_from(">H", packet, header_end - 2)
        plain = plain[4 * words :]
    return bytes(plain)


def unwrap_seq(seq_ack: int, newest: int) -> int:
    """The full seq a client's ``seq_ack`` means (binary messages carry only 16 bits)."""
    if seq_ack < 0:
        return 0
    if seq_ack > 0xFFFF:
        return seq_ack
    candidate = (newest & ~0xFFFF) | seq_ack
    return candidate if candidate <= newest else candidate - 0x10000
