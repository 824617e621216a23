"""The emulator voice server's UDP side: IP discovery, RTP decryption, delivery to listeners.

Datagrams are matched to a session by SSRC, decrypted with the session's key and mode (the
emulator's own AEAD code in ``voice_session.open_rtp``), and handed to every listener of the
session's call, which DAVE-decrypts them with libdave.  Faults: ``lose_packets`` (a count),
``lose_randomly`` (a rate drawn from a caller's seeded generator) and ``reorder_next_packet``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable
from typing import Final

import trio
from cryptography.exceptions import InvalidTag
from nacl.exceptions import CryptoError

from musicbot.emulator.voice_call import Call
from musicbot.emulator.voice_session import ServerSession, open_rtp

IP_DISCOVERY_SIZE: Final = 74
IP_DISCOVERY_REQUEST: Final = b"\x00\x01"
MIN_RTP_SIZE: Final = 12 + 16 + 4  # header, AEAD tag, nonce counter


class MediaPort:
    def __init__(
        self,
        *,
        sessions: Callable[[], Iterable[ServerSession]],
        call_of: Callable[[ServerSession], Call],
        changed: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._call_of = call_of
        self._changed = changed
        self.lost_packets = 0
        self._lose_next = 0
        self._loss_rate = 0.0
        self._loss_random: random.Random | None = None
        self._reorder_next = False
        self._held: tuple[ServerSession, bytes] | None = None

    def lose_packets(self, count: int) -> None:
        self._lose_next += count

    def lose_randomly(self, rate: float, rng: random.Random) -> None:
        self._loss_rate, self._loss_random = rate, rng

    def reorder_next_packet(self) -> None:
        self._reorder_next = True

    async def serve(self, udp: trio.socket.SocketType) -> None:
        while True:
            packet, address = await udp.recvfrom(4096)
            if len(packet) == IP_DISCOVERY_SIZE and packet[:2] == IP_DISCOVERY_REQUEST:
                await self._ip_discovery(udp, packet, address)
                continue
            if len(packet) < MIN_RTP_SIZE:
                continue
            (ssrc,) = struct.unpack_from(">I", packet, 8)
            session = next((s for s in self._sessions() if s.ssrc == ssrc), None)
            if session is None or session.key is None or session.mode is None:
                continue
            if self._lose():
                continue
            if self._reorder_next:
                self._reorder_next = False
                self._held = (session, packet)
                continue
            self._deliver(session, packet)
            if self._held is not None:
                held, self._held = self._held, None
                self._deliver(*held)

    def _lose(self) -> bool:
        lost = self._lose_next > 0 or (
            self._loss_random is not None and self._loss_random.random() < self._loss_rate
        )
        if lost:
            self._lose_next = max(0, self._lose_next - 1)
            self.lost_packets += 1
        return lost

    async def _ip_discovery(
        self, udp: trio.socket.SocketType, packet: bytes, address: tuple[str, int]
    ) -> None:
        (ssrc,) = struct.unpack_from(">I", packet, 4)
        for session in self._sessions():
            if session.ssrc == ssrc:
                session.udp_address = address
        reply = struct.pack(">HHI", 2, 70, ssrc) + address[0].encode().ljust(64, b"\x00")
        await udp.sendto(reply + struct.pack(">H", address[1]), address)

    def _deliver(self, session: ServerSession, packet: bytes) -> None:
        assert session.key is not None and session.mode is not None
        try:
            payload = open_rtp(session.mode, session.key, packet)
        except (InvalidTag, CryptoError, ValueError):
            session.auth_failures += 1
            self._changed()
            return
        session.packets += 1
        seq, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
        now = trio.current_time()
        for listener in self._call_of(session).listeners.values():
            listener.receive(
                sender_id=session.user_id,
                ssrc=ssrc,
                seq=seq,
                timestamp=timestamp,
                payload=payload,
                now=now,
            )
        self._changed()
