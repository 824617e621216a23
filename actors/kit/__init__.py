"""The actor kit: mailboxes, request/reply, supervision and the event bus."""

from actors.kit.mailbox import Mailbox, ask, open_mailbox, reply
from actors.kit.supervisor import (
    ChildContext,
    ChildInfo,
    ChildSpec,
    ChildStart,
    ChildStartError,
    Restart,
    RestartPolicy,
    Strategy,
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
    "Restart",
    "RestartPolicy",
    "Strategy",
    "SupervisorHandle",
    "SupervisorSpec",
    "ask",
    "open_mailbox",
    "reply",
    "run_supervisor",
]
