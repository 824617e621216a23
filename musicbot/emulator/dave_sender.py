"""The voice server's MLS *external sender* for DAVE (RFC 9420, ciphersuite 2).

Discord's voice gateway is not an MLS member; it is an external sender that signs proposals
(Add for a joining member, Remove for a leaving one) which the members commit.  This module
builds those proposals and splits a member's op 28 (a commit, optionally followed by a Welcome
with no length prefix between them) by walking the commit's wire format.

Wire facts used (RFC 9420 §6, §12): an MLSMessage is ``u16 version=1 | u16 wire_format`` then,
for a PublicMessage, ``FramedContent | auth``; vectors carry a 1/2/4-byte varint length; the
external sender is ``Sender{type=external(2), index u32}``; proposal types are add(1),
remove(3).  Signatures are DER ECDSA P-256/SHA-256 over ``"MLS 1.0 FramedContentTBS"``.
"""

from __future__ import annotations

import struct
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MLS_VERSION_10: Final = 1
WIRE_PUBLIC_MESSAGE: Final = 1
SENDER_MEMBER: Final = 1
SENDER_EXTERNAL: Final = 2
CONTENT_PROPOSAL: Final = 2
CONTENT_COMMIT: Final = 3
PROPOSAL_ADD: Final = 1
PROPOSAL_REMOVE: Final = 3
CREDENTIAL_BASIC: Final = 1
LEAF_SOURCE_LIFETIME: Final = 1  # leaf_node_source key_package: carries a lifetime
LEAF_SOURCE_COMMIT: Final = 3  # leaf_node_source commit: carries a parent hash
PROPOSALS_APPEND: Final = 0  # op 27 operation type


def varint(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    if n < 1 << 30:
        return struct.pack(">I", 0x80000000 | n)
    raise ValueError("vector too long for an MLS varint")


def vec(data: bytes) -> bytes:
    return varint(len(data)) + data


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise ValueError("truncated MLS message")
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def skip(self, n: int) -> None:
        self.take(n)

    def vec(self) -> bytes:
        if self.pos >= len(self.buf):
            raise ValueError("truncated MLS message")
        prefix = self.buf[self.pos] >> 6
        if prefix == 0:
            n = self.u8()
        elif prefix == 1:
            n = self.u16() & 0x3FFF
        elif prefix == 2:
            n = int(struct.unpack(">I", self.take(4))[0]) & 0x3FFFFFFF
        else:
            raise ValueError("invalid MLS varint")
        return self.take(n)


def _skip_leaf_node(r: _Reader) -> None:
    r.vec()  # encryption_key
    r.vec()  # signature_key
    r.u16()  # credential type (basic)
    r.vec()  # identity
    for _ in range(5):  # capabilities: versions, cipher_suites, extensions, proposals, credentials
        r.vec()
    source = r.u8()
    if source == LEAF_SOURCE_LIFETIME:
        r.skip(16)  # not_before, not_after
    elif source == LEAF_SOURCE_COMMIT:
        r.vec()  # parent_hash
    r.vec()  # extensions
    r.vec()  # signature


def split_commit_welcome(buf: bytes) -> tuple[bytes, bytes | None]:
    """Split an op 28 body into (commit MLSMessage, Welcome or None)."""
    r = _Reader(buf)
    if r.u16() != MLS_VERSION_10 or r.u16() != WIRE_PUBLIC_MESSAGE:
        raise ValueError("op 28 commit is not an MLS 1.0 PublicMessage")
    r.vec()  # group_id
    r.skip(8)  # epoch
    sender_type = r.u8()
    if sender_type in (SENDER_MEMBER, SENDER_EXTERNAL):
        r.skip(4)  # leaf or sender index
    r.vec()  # authenticated_data
    if r.u8() != CONTENT_COMMIT:
        raise ValueError("op 28 does not start with a commit")
    r.vec()  # proposals
    if r.u8():  # optional UpdatePath
        _skip_leaf_node(r)
        r.vec()  # UpdatePathNode nodes
    r.vec()  # signature
    r.vec()  # confirmation_tag
    if sender_type == SENDER_MEMBER:
        r.vec()  # membership_tag
    return buf[: r.pos], (buf[r.pos :] or None)


class ExternalSender:
    """One group's external sender (the group id is the channel id as a big-endian u64)."""

    def __init__(self, channel_id: int) -> None:
        self._group_id = struct.pack(">Q", channel_id)
        self._key = ec.generate_private_key(ec.SECP256R1())
        public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # ExternalSender{signature_key, Credential{basic, identity}} — the op 25 body.
        self.package = vec(public) + struct.pack(">H", CREDENTIAL_BASIC) + vec(b"\x00\x01\x01\x00")

    def _proposal_message(self, epoch: int, proposal: bytes) -> bytes:
        content = (
            vec(self._group_id)
            + struct.pack(">QBI", epoch, SENDER_EXTERNAL, 0)
            + vec(b"")  # authenticated_data
            + bytes([CONTENT_PROPOSAL])
            + proposal
        )
        head = struct.pack(">HH", MLS_VERSION_10, WIRE_PUBLIC_MESSAGE)
        to_sign = vec(b"MLS 1.0 FramedContentTBS") + vec(head + content)
        signature = self._key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        return head + content + vec(signature)

    def proposals(self, epoch: int, *, add: list[bytes], remove: list[int]) -> bytes:
        """An op 27 body (append): Remove proposals for leaf indices, Add for key packages."""
        messages = [
            self._proposal_message(epoch, struct.pack(">HI", PROPOSAL_REMOVE, leaf))
            for leaf in remove
        ]
        messages += [
            self._proposal_message(epoch, struct.pack(">H", PROPOSAL_ADD) + package)
            for package in add
        ]
        return bytes([PROPOSALS_APPEND]) + vec(b"".join(messages))
