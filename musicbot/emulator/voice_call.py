"""A voice channel in the emulator: its DAVE group, driven by the server, and its listeners.

The server is the group's MLS external sender (``dave_sender``).  Listeners are in-process
members built on libdave (``dave``, the second DAVE implementation), so what they decrypt
proves the bot's davey output interoperates.  Who commits is configurable: with
``committer="bot"`` the bot (the WebSocket client) commits every change (op 27 → op 28 → op 29);
with ``committer="listener"`` a listener does, as when the bot joins people already talking, so
the bot joins by Welcome (op 30) and processes commits it did not make (op 29).

One change at a time ("a round"): the server proposes Adds for members not yet in the group
and Removes for members who left (op 27, the same signed bytes to every member: commits refer
to proposals by hash); the committer's commit (+ Welcome) is processed by the old members, the
Welcome by the new ones, and the bot gets op 29 or op 30 with a transition id; when it says
ready (op 23) the server says execute (op 22).  When the bot commits, a new bot session or op
31 resets the group and every listener starts over with a fresh key package; when listeners
commit, they keep their group and remove the bot's old leaf before adding the new session.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final, Protocol

import attrs
import dave
import structlog

from musicbot.emulator.dave_sender import ExternalSender, split_commit_welcome

log = structlog.get_logger(__name__)

OP_CLIENTS_CONNECT: Final = 11
OP_CLIENT_DISCONNECT: Final = 13
OP_PREPARE_TRANSITION: Final = 21
OP_EXECUTE_TRANSITION: Final = 22
OP_PREPARE_EPOCH: Final = 24
OP_EXTERNAL_SENDER: Final = 25
OP_PROPOSALS: Final = 27
OP_ANNOUNCE_COMMIT: Final = 29
OP_WELCOME: Final = 30
DAVE_VERSION: Final = 1
TRANSITION_EXPIRY_S: Final = 10.0
COMMITTER_BOT: Final = "bot"  # the bot commits every change (it gets op 27, answers op 28)
COMMITTER_LISTENER: Final = "listener"  # a libdave listener commits; the bot gets 29/30
DAVE_MAGIC: Final = b"\xfa\xfa"  # every DAVE-encrypted frame ends with this marker


class BotLink(Protocol):
    """How a call talks to the bot's voice session (sequenced, buffered for resume)."""

    user_id: int

    def queue_json(self, op: int, d: Any) -> None: ...

    def queue_binary(self, op: int, body: bytes) -> None: ...


@attrs.frozen(kw_only=True)
class ReceivedFrame:
    """One Opus frame a listener got: what arrived, when, and from whom."""

    listener_id: int
    sender_id: int
    ssrc: int
    seq: int
    timestamp: int
    arrival: float  # trio.current_time() when the datagram was handled
    opus: bytes  # after transport *and* DAVE decryption
    e2ee: bool  # the payload was DAVE-encrypted on the wire


class Listener:
    """A channel member that only listens, with libdave as its DAVE implementation."""

    def __init__(self, *, user_id: int, channel_id: int, external_sender: bytes) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.frames: list[ReceivedFrame] = []
        self.undecryptable = 0  # frames that arrived before we had keys, or failed
        self.first_epoch: int | None = None
        self.epochs: list[int] = []
        self._decryptors: dict[int, Any] = {}
        self._passthrough = False
        self.session = dave.Session(None)
        self.key_package = b""
        self.fresh(external_sender)

    def fresh(self, external_sender: bytes) -> None:
        """Start over outside any group with a new key package (a group reset)."""
        self.session.reset()
        self.session.init(DAVE_VERSION, self.channel_id, str(self.user_id), None)
        self.session.set_external_sender(external_sender)
        self.key_package = bytes(self.session.get_marshalled_key_package() or b"")

    def use_keys_of(self, sender_id: int, epoch: int) -> None:
        ratchet = self.session.get_key_ratchet(str(sender_id))
        if ratchet is None:
            return
        decryptor = self._decryptors.get(sender_id)
        if decryptor is None:
            decryptor = self._decryptors[sender_id] = dave.Decryptor()
            if self._passthrough:
                decryptor.transition_to_passthrough_mode(True, TRANSITION_EXPIRY_S)
        decryptor.transition_to_key_ratchet(ratchet)
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.epochs.append(epoch)

    def allow_plain(self, sender_id: int) -> None:
        """A downgrade to DAVE 0: accept unencrypted frames from now on."""
        self._passthrough = True
        decryptor = self._decryptors.get(sender_id)
        if decryptor is None:
            decryptor = self._decryptors[sender_id] = dave.Decryptor()
        decryptor.transition_to_passthrough_mode(True, TRANSITION_EXPIRY_S)

    def forbid_plain(self) -> None:
        """Back to DAVE: plain frames are refused again once the transition expires."""
        self._passthrough = False
        for decryptor in self._decryptors.values():
            decryptor.transition_to_passthrough_mode(False, TRANSITION_EXPIRY_S)

    def receive(
        self, *, sender_id: int, ssrc: int, seq: int, timestamp: int, payload: bytes, now: float
    ) -> None:
        decryptor = self._decryptors.get(sender_id)
        opus = None if decryptor is None else decryptor.decrypt(dave.MediaType.audio, payload)
        if opus is None:
            self.undecryptable += 1
            return
        self.frames.append(
            ReceivedFrame(
                listener_id=self.user_id,
                sender_id=sender_id,
                ssrc=ssrc,
                seq=seq,
                timestamp=timestamp,
                arrival=now,
                opus=bytes(opus),
                e2ee=payload.endswith(DAVE_MAGIC),
            )
        )


@attrs.define(kw_only=True)
class _Round:
    transition_id: int
    adds: list[int]  # user ids joining the group (listeners and/or the bot)
    removes: list[int]  # user ids leaving the group
    committer: int = 0  # who commits this round's proposals
    committed: bool = False
    downgrade: bool = False


class Call:
    """The DAVE state of one voice channel."""

    def __init__(
        self,
        *,
        guild_id: int,
        channel_id: int,
        on_change: Callable[[], None],
        committer: str = COMMITTER_BOT,
    ) -> None:
        self.guild_id = guild_id
        self.committer = committer  # who commits when both could: "bot" or "listener"
        self.channel_id = channel_id
        self.sender = ExternalSender(channel_id)
        self.listeners: dict[int, Listener] = {}
        self.version = DAVE_VERSION
        self.epoch = 0
        self.leaves: list[int | None] = []  # user id per MLS leaf, in tree order
        self.bot: BotLink | None = None
        self.bot_key_package: bytes | None = None
        self.invalid_reports = 0
        self.transitions_executed = 0
        self._round: _Round | None = None
        self._stale_bot: int | None = None  # the bot's leaf from a session that is gone
        self._next_transition = 1
        self._on_change = on_change

    def is_member(self, user_id: int) -> bool:
        """``user_id`` holds a live leaf of the group (not one left over from an old session)."""
        return user_id in self.leaves and user_id != self._stale_bot

    @property
    def idle(self) -> bool:
        """No proposal, commit or transition in flight."""
        return self._round is None

    # -- membership ----------------------------------------------------------------------------

    def bot_session_started(self, bot: BotLink) -> None:
        """A bot identified: a fresh MLS member.  If the bot commits, the group starts over;
        if listeners do, they keep their group and remove the bot's old leaf, if any."""
        self.bot = bot
        self._forget_bot(bot.user_id)
        if self.listeners:
            bot.queue_json(OP_CLIENTS_CONNECT, {"user_ids": [str(u) for u in self.listeners]})
        if self.version > 0:
            bot.queue_binary(OP_EXTERNAL_SENDER, self.sender.package)

    def bot_left(self, bot: BotLink) -> None:
        if self.bot is bot:
            self.bot = None
            self._forget_bot(bot.user_id)
            self._advance()

    def _forget_bot(self, bot_id: int) -> None:
        if self.committer == COMMITTER_BOT or not self.listeners:
            self._reset_group()
            return
        self.bot_key_package = None
        self._round = None  # a round waiting for the old session's op 23 is abandoned
        if bot_id in self.leaves:
            self._stale_bot = bot_id
        self._on_change()

    def add_listener(self, user_id: int) -> Listener:
        listener = Listener(
            user_id=user_id, channel_id=self.channel_id, external_sender=self.sender.package
        )
        if self.version == 0 and self.bot is not None:
            listener.allow_plain(self.bot.user_id)
        self.listeners[user_id] = listener
        if self.bot is not None:
            self.bot.queue_json(OP_CLIENTS_CONNECT, {"user_ids": [str(user_id)]})
        self._advance()
        return listener

    def remove_listener(self, user_id: int) -> Listener | None:
        listener = self.listeners.pop(user_id, None)
        if listener is not None and self.bot is not None:
            self.bot.queue_json(OP_CLIENT_DISCONNECT, {"user_id": str(user_id)})
        self._advance()
        return listener

    # -- messages from the bot -----------------------------------------------------------------

    def on_key_package(self, package: bytes) -> None:
        self.bot_key_package = package
        self._advance()

    def on_commit_welcome(self, commit: bytes, welcome: bytes | None) -> None:
        """Op 28 from the bot: it wins the round if the round was waiting for it."""
        r = self._round
        if r is None or r.committed or self.bot is None or r.committer != self.bot.user_id:
            return  # a commit for a round that is over: another member's won, or a reset
        self._apply_commit(r, commit, welcome)

    def _apply_commit(self, r: _Round, commit: bytes, welcome: bytes | None) -> None:
        """The winning commit: update the tree, let every member process it, tell the bot."""
        bot_id = None if self.bot is None else self.bot.user_id
        old_members = [u for u in self.leaves if u is not None and u not in r.removes]
        for uid in r.removes:
            self.leaves[self.leaves.index(uid)] = None
            if uid == self._stale_bot:
                self._stale_bot = None
        if not self.leaves:
            self.leaves.append(r.committer)  # the first commit founds the group at leaf 0
            old_members = [r.committer]
        for uid in r.adds:
            if None in self.leaves:
                self.leaves[self.leaves.index(None)] = uid
            else:
                self.leaves.append(uid)
        self.epoch += 1
        recognized = {str(u) for u in self.leaves if u is not None}
        for uid in old_members:
            member = self.listeners.get(uid)
            if member is not None:
                result = member.session.process_commit(commit)
                if isinstance(result, dave.RejectType):
                    log.warning("emulator_listener_commit_failed", user_id=uid, result=result.name)
        newcomers = [self.listeners[u] for u in r.adds if u in self.listeners]
        for member in newcomers:
            if welcome is None or member.session.process_welcome(welcome, recognized) is None:
                log.warning("emulator_listener_welcome_failed", user_id=member.user_id)
        r.committed = True
        head = struct.pack(">H", r.transition_id)
        if self.bot is not None and bot_id in old_members:
            self.bot.queue_binary(OP_ANNOUNCE_COMMIT, head + commit)
        elif self.bot is not None and bot_id in r.adds and welcome is not None:
            self.bot.queue_binary(OP_WELCOME, head + welcome)
        if bot_id is not None and bot_id in self.leaves:
            for leaf in self.leaves:
                listener = self.listeners.get(leaf or 0)
                if listener is not None:
                    listener.use_keys_of(bot_id, self.epoch)
            self._on_change()  # the round ends when the bot says it is ready (op 23)
        else:
            self._round = None  # the bot is not in this group: nobody to wait for
            self._on_change()
            self._advance()

    def on_transition_ready(self, transition_id: int) -> None:
        r = self._round
        if r is None or r.transition_id != transition_id or self.bot is None:
            return
        if r.downgrade:
            self.version = 0
        self.bot.queue_json(OP_EXECUTE_TRANSITION, {"transition_id": transition_id})
        self.transitions_executed += 1
        self._round = None
        self._on_change()
        self._advance()

    def on_invalid_commit_welcome(self) -> None:
        """op 31: the bot could not use our commit/welcome; it re-inits with a new key package."""
        self.invalid_reports += 1
        self._reset_group()

    # -- server-initiated changes --------------------------------------------------------------

    def announce_bad_commit(self) -> int:
        """Send the bot an op 29 it cannot process (a fault); returns the transition id."""
        assert self.bot is not None
        transition_id = self._take_transition_id()
        garbage = struct.pack(">HH", 1, 1) + b"\x08not-mls!"
        self.bot.queue_binary(OP_ANNOUNCE_COMMIT, struct.pack(">H", transition_id) + garbage)
        return transition_id

    def downgrade(self) -> int:
        """Start a transition to DAVE protocol 0 (plain Opus); returns the transition id."""
        if self.bot is None or self._round is not None:
            raise RuntimeError("downgrade needs a bot and no change in flight")
        transition_id = self._take_transition_id()
        self._round = _Round(transition_id=transition_id, adds=[], removes=[], downgrade=True)
        for member in self.listeners.values():
            member.allow_plain(self.bot.user_id)
        self.bot.queue_json(
            OP_PREPARE_TRANSITION, {"protocol_version": 0, "transition_id": transition_id}
        )
        return transition_id

    def upgrade(self) -> None:
        """From protocol 0 back to DAVE: op 24 with epoch 1 makes the bot offer a new key
        package; the group is then formed as on a first join (its commit's transition id
        switches the bot to E2EE when executed)."""
        if self.bot is None or self._round is not None or self.version != 0:
            raise RuntimeError("upgrade needs a bot, protocol 0 and no change in flight")
        self.version = DAVE_VERSION
        for member in self.listeners.values():
            member.forbid_plain()
        self._reset_group()
        self.bot.queue_binary(OP_EXTERNAL_SENDER, self.sender.package)
        self.bot.queue_json(OP_PREPARE_EPOCH, {"protocol_version": DAVE_VERSION, "epoch": 1})

    # -- internals -----------------------------------------------------------------------------

    def _reset_group(self) -> None:
        self.epoch = 0
        self.leaves = []
        self._stale_bot = None
        self.bot_key_package = None
        self._round = None
        for member in self.listeners.values():
            member.fresh(self.sender.package)
        self._on_change()

    def _take_transition_id(self) -> int:
        transition_id = self._next_transition
        self._next_transition = self._next_transition % 0xFFFF + 1  # u16, never 0
        return transition_id

    def _advance(self) -> None:
        """Start the next round if the group differs from who is in the channel."""
        if self._round is not None or self.version == 0:
            return
        bot_id = None if self.bot is None else self.bot.user_id
        in_group = {u for u in self.leaves if u is not None}
        # Who could commit: a member of the group, or anyone with a key package if none exists.
        able = [u for u in self.listeners if not in_group or u in in_group]
        bot_able = bot_id is not None and self.bot_key_package is not None
        stale = self._stale_bot if self._stale_bot in in_group else None
        if bot_able and (not in_group or bot_id in in_group) and bot_id != stale:
            able.insert(0 if self.committer == COMMITTER_BOT else len(able), bot_id or 0)
        if not able:
            return
        committer = able[0]
        present = list(self.listeners) + ([bot_id] if bot_able and bot_id else [])
        if in_group:
            adds = [u for u in present if u not in in_group]
        else:
            adds = [u for u in present if u != committer]  # the committer founds the group
        removes = [u for u in in_group if u == stale or (u not in present and u != bot_id)]
        if not adds and not removes:
            return
        packages = [
            self.bot_key_package if u == bot_id else self.listeners[u].key_package for u in adds
        ]
        body = self.sender.proposals(
            self.epoch,
            add=[p for p in packages if p is not None],
            remove=[self.leaves.index(u) for u in removes],
        )
        r = _Round(
            transition_id=self._take_transition_id(),
            adds=adds,
            removes=removes,
            committer=committer,
        )
        self._round = r
        recognized = {str(u) for u in in_group | set(present)}
        members = in_group if in_group else {committer}
        commit_welcome: bytes | None = None
        for uid in members:
            member = self.listeners.get(uid)
            if member is not None:  # members queue the proposals; the committer gets a commit
                out = member.session.process_proposals(body, recognized)
                if uid == committer:
                    commit_welcome = out
        if self.bot is not None and bot_id in members:
            self.bot.queue_binary(OP_PROPOSALS, body)
        self._on_change()
        if committer != bot_id:
            if commit_welcome is None:
                log.warning("emulator_listener_did_not_commit", user_id=committer)
                self._round = None
                return
            self._apply_commit(r, *split_commit_welcome(bytes(commit_welcome)))
