"""Discord gateway v10 protocol numbers (developers/topics/opcodes-and-status-codes.mdx)."""

from __future__ import annotations

from typing import Final

API_VERSION: Final = 10  # the gateway version this client speaks

# Gateway opcodes.
OP_DISPATCH: Final = 0  # server → client: an event with `t` and `s`
OP_HEARTBEAT: Final = 1  # both directions; server op 1 asks for a beat right now
OP_IDENTIFY: Final = 2  # client: start a new session
OP_PRESENCE_UPDATE: Final = 3
OP_VOICE_STATE_UPDATE: Final = 4  # client: join / move / leave a voice channel
OP_RESUME: Final = 6  # client: continue a session on a new socket
OP_RECONNECT: Final = 7  # server: reconnect and resume
OP_REQUEST_GUILD_MEMBERS: Final = 8
OP_INVALID_SESSION: Final = 9  # server: d=true resumable, d=false identify again
OP_HELLO: Final = 10  # server: first message, carries heartbeat_interval (ms)
OP_HEARTBEAT_ACK: Final = 11  # server: answer to op 1

# Intents: GUILDS (1 << 0) for GUILD_CREATE/CHANNEL_*; GUILD_VOICE_STATES (1 << 7) for
# VOICE_STATE_UPDATE.  INTERACTION_CREATE needs no intent; nothing privileged is asked for.
INTENT_GUILDS: Final = 1 << 0
INTENT_GUILD_VOICE_STATES: Final = 1 << 7
DEFAULT_INTENTS: Final = INTENT_GUILDS | INTENT_GUILD_VOICE_STATES  # = 129

# Limits (developers/events/gateway.mdx "Rate Limiting" and "Sending Events").
SEND_LIMIT: Final = 120  # payloads per connection per SEND_PERIOD, heartbeats included
SEND_PERIOD: Final = 60.0  # seconds
MAX_PAYLOAD_BYTES: Final = 4096  # larger sent payloads get close 4002
# Largest received message, compressed or inflated: READY / GUILD_CREATE of big guilds are
# large, but nothing Discord sends comes near this.
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
IDENTIFY_WINDOW: Final = 5.0  # max_concurrency identifies per this many seconds

# zlib-stream: a complete message ends with the Z_SYNC_FLUSH marker.
ZLIB_SUFFIX: Final = b"\x00\x00\xff\xff"

# Client-chosen close code for a zombie connection or a reconnect we start ourselves:
# anything except 1000/1001 keeps the session resumable.
CLOSE_RECONNECT: Final = 4900
