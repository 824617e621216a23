"""The actor kit: mailboxes, request/reply and the (guild) supervisor."""

from actors.kit.mailbox import Mailbox, ask, open_mailbox, reply
from actors.kit.supervisor import (
    ChildContext,
    ChildInfo,
    ChildSpec,
    ChildStart,
    ChildStartError,
    SupervisorHandle,
    SupervisorSpec,
    run_supervisor,
)

__all__ = [
    "ChildContext",
    "ChildInfo",
    "ChildSpec",
    "ChildStart",
    "ChildStartError",
    "Mailbox",
    "SupervisorHandle",
    "SupervisorSpec",
    "ask",
    "open_mailbox",
    "reply",
    "run_supervisor",
]
