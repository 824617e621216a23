"""Voice gateway URL and message framing (JSON seq, binary seq|op|body)."""

from __future__ import annotations

import json
import struct

from musicbot.voice.gateway import decode, voice_url


def test_voice_url() -> None:
    assert voice_url("c-ams1.discord.media:443") == "wss://c-ams1.discord.media:443/?v=8"
    assert voice_url("ws://127.0.0.1:5000") == "ws://127.0.0.1:5000/?v=8"
    assert voice_url("wss://example.test/") == "wss://example.test/?v=8"


def test_decode_binary_and_json() -> None:
    msg = decode(struct.pack(">HB", 513, 27) + b"\x00body")
    assert (msg.op, msg.seq, msg.body) == (27, 513, b"\x00body")
    msg = decode(json.dumps({"op": 21, "d": {"transition_id": 3}, "seq": 9}))
    assert (msg.op, msg.seq, msg.d) == (21, 9, {"transition_id": 3})
    assert decode(json.dumps({"op": 8, "d": {"heartbeat_interval": 1}})).seq is None
