"""The bot's side of DAVE (end-to-end encryption), driven by voice gateway ops 21–31.

Theory (protocol.md §3, DAVE whitepaper).  The voice server is an MLS *external sender*: it
announces itself (op 25), proposes adding/removing members (op 27) and announces the winning
commit (op 29) or welcomes new members (op 30).  Every change is a *transition* with an id: a
member prepares it (commit/welcome processed, or op 21 for a protocol-version change), says it
is ready (op 23) and switches when the server says execute (op 22).  Transition id 0 means
"execute now" (a sole member or the first group).  If a commit or welcome cannot be processed
the member reports it (op 31) and starts over with a fresh key package (op 26).

This class is pure: it never does I/O.  Each handler returns the messages to send, as
``Outgoing`` values that the gateway layer serializes.  davey caveat: it has no separate sender
ratchet, so it encrypts with the new epoch right after a commit instead of at op 22; receivers
keep old keys for a while, so this is harmless.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import attrs
import davey
import structlog

from musicbot.voice import opcodes as op

log = structlog.get_logger(__name__)

# After a downgrade, how long receivers keep accepting encrypted frames (seconds).
PASSTHROUGH_EXPIRY_S: Final = 10
NO_TRANSITION: Final = 0  # transition id 0: execute immediately


@attrs.frozen(kw_only=True)
class Outgoing:
    """A message for the voice gateway: JSON ``d`` for a JSON op, or a binary body."""

    op: int
    json: dict[str, Any] | None = None
    binary: bytes | None = None


class DaveState:
    """DAVE state of one voice session (recreated on a full rejoin, kept across a resume)."""

    def __init__(self, *, user_id: int, channel_id: int) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.protocol_version = 0  # the version frames are sent with right now
        self._session: davey.DaveSession | None = None
        self._external_sender: bytes | None = None  # re-applied after every re-init
        self._pending: dict[int, int] = {}  # transition id -> protocol version it moves to
        self.recognized: set[int] = {user_id}
        self.transitions_executed = 0
        self.invalid_commits = 0

    # -- frames -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether a frame can go out now (plain when the protocol is 0, else E2EE)."""
        if self.protocol_version == 0:
            return True
        return self._session is not None and bool(self._session.ready)

    @property
    def epoch(self) -> int | None:
        return None if self._session is None else self._session.epoch

    def encrypt(self, opus: bytes) -> bytes:
        """The frame's payload for RTP.  Call only when ``ready``."""
        if self.protocol_version == 0 or self._session is None:
            return opus
        return self._session.encrypt_opus(opus)

    # -- gateway events ---------------------------------------------------------------------

    def on_session_description(self, version: int) -> list[Outgoing]:
        """Op 4 tells the session's DAVE version; >0 starts a fresh MLS member."""
        self.protocol_version = version
        self._pending.clear()
        if version > 0:
            return self._fresh_key_package(version)
        self._session = None
        return []

    def on_clients_connect(self, user_ids: list[str]) -> None:
        self.recognized.update(int(u) for u in user_ids)

    def on_client_disconnect(self, user_id: str) -> None:
        self.recognized.discard(int(user_id))

    def on_prepare_transition(self, d: dict[str, Any]) -> list[Outgoing]:
        """Op 21: a protocol-version change (a downgrade to 0, usually)."""
        transition_id = int(d["transition_id"])
        version = int(d["protocol_version"])
        self._pending[transition_id] = version
        if transition_id == NO_TRANSITION:
            self.on_execute_transition({"transition_id": transition_id})
            return []
        if version == 0 and self._session is not None:
            self._session.set_passthrough_mode(True, PASSTHROUGH_EXPIRY_S)
        return [_ready(transition_id)]

    def on_execute_transition(self, d: dict[str, Any]) -> None:
        """Op 22: switch to the prepared transition's protocol version."""
        transition_id = int(d["transition_id"])
        version = self._pending.pop(transition_id, None)
        if version is None:
            log.warning("dave_unknown_transition", transition_id=transition_id)
            return
        if version != self.protocol_version:
            log.info("dave_protocol_changed", old=self.protocol_version, new=version)
        self.protocol_version = version
        self.transitions_executed += 1

    def on_prepare_epoch(self, d: dict[str, Any]) -> list[Outgoing]:
        """Op 24: epoch 1 means a new group is being made: re-init and offer a key package."""
        if int(d["epoch"]) == 1:
            return self._fresh_key_package(int(d["protocol_version"]))
        return []

    def on_external_sender(self, body: bytes) -> None:
        self._external_sender = body
        if self._session is not None:
            self._session.set_external_sender(body)

    def on_proposals(self, body: bytes) -> list[Outgoing]:
        """Op 27: ``body`` is the op-type byte then the proposals (or refs) vector."""
        if self._session is None or not body:
            return []
        kind = (
            davey.ProposalsOperationType.append
            if body[0] == 0
            else davey.ProposalsOperationType.revoke
        )
        result = self._session.process_proposals(kind, body[1:], sorted(self.recognized))
        if result is None:
            return []
        return [
            Outgoing(op=op.DAVE_MLS_COMMIT_WELCOME, binary=result.commit + (result.welcome or b""))
        ]

    def on_announce_commit(self, body: bytes) -> list[Outgoing]:
        """Op 29: u16 transition id + the winning commit."""
        return self._process(body, welcome=False)

    def on_welcome(self, body: bytes) -> list[Outgoing]:
        """Op 30: u16 transition id + a Welcome into the group."""
        return self._process(body, welcome=True)

    # -- internals -----------------------------------------------------------------------------

    def _process(self, body: bytes, *, welcome: bool) -> list[Outgoing]:
        if self._session is None or len(body) < 2:
            return []
        (transition_id,) = struct.unpack_from(">H", body, 0)
        try:
            if welcome:
                self._session.process_welcome(body[2:])
            else:
                self._session.process_commit(body[2:])
        except ValueError as exc:
            self.invalid_commits += 1
            log.warning("dave_invalid_commit_welcome", transition_id=transition_id, error=str(exc))
            out = [
                Outgoing(
                    op=op.DAVE_MLS_INVALID_COMMIT_WELCOME, json={"transition_id": transition_id}
                )
            ]
            return out + self._fresh_key_package(self._session.protocol_version)
        version = self._session.protocol_version
        if transition_id == NO_TRANSITION:
            self.protocol_version = version
            return []
        self._pending[transition_id] = version
        return [_ready(transition_id)]

    def _fresh_key_package(self, version: int) -> list[Outgoing]:
        if self._session is None:
            self._session = davey.DaveSession(version, self.user_id, self.channel_id)
        else:
            self._session.reinit(version, self.user_id, self.channel_id)
        if self._external_sender is not None:
            self._session.set_external_sender(self._external_sender)
        package = self._session.get_serialized_key_package()
        return [Outgoing(op=op.DAVE_MLS_KEY_PACKAGE, binary=package)]


def _ready(transition_id: int) -> Outgoing:
    return Outgoing(op=op.DAVE_TRANSITION_READY, json={"transition_id": transition_id})
