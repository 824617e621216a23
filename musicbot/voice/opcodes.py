"""Voice gateway v8 opcodes (protocol.md §2 and §3)."""

from __future__ import annotations

from typing import Final

IDENTIFY: Final = 0
SELECT_PROTOCOL: Final = 1
READY: Final = 2
HEARTBEAT: Final = 3
SESSION_DESCRIPTION: Final = 4
SPEAKING: Final = 5
HEARTBEAT_ACK: Final = 6
RESUME: Final = 7
HELLO: Final = 8
RESUMED: Final = 9
CLIENTS_CONNECT: Final = 11
CLIENT_DISCONNECT: Final = 13
DAVE_PREPARE_TRANSITION: Final = 21  # JSON {protocol_version, transition_id}
DAVE_EXECUTE_TRANSITION: Final = 22  # JSON {transition_id}
DAVE_TRANSITION_READY: Final = 23  # client JSON {transition_id}
DAVE_PREPARE_EPOCH: Final = 24  # JSON {protocol_version, epoch}
DAVE_MLS_EXTERNAL_SENDER: Final = 25  # binary
DAVE_MLS_KEY_PACKAGE: Final = 26  # client binary
DAVE_MLS_PROPOSALS: Final = 27  # binary
DAVE_MLS_COMMIT_WELCOME: Final = 28  # client binary
DAVE_MLS_ANNOUNCE_COMMIT_TRANSITION: Final = 29  # binary
DAVE_MLS_WELCOME: Final = 30  # binary
DAVE_MLS_INVALID_COMMIT_WELCOME: Final = 31  # client JSON {transition_id}

GATEWAY_VERSION: Final = 8  # v8 adds buffered resume (seq_ack); below 4 is refused since 2024

SPEAKING_MICROPHONE: Final = 1  # the flag bits: 1 microphone, 2 soundshare, 4 priority
SPEAKING_OFF: Final = 0
