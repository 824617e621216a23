"""The actor kit: mailboxes, request/reply, supervision and the event bus."""

from actors.kit.mailbox import Mailbox, ask, open_mailbox, reply

__all__ = ["Mailbox", "ask", "open_mailbox", "reply"]
