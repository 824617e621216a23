"""Answering one interaction: acknowledge within 3 s, then edit or follow up.

Theory: Discord requires an interaction callback within 3 seconds.  A command whose answer is
quick is answered at once (callback type 4, or type 7 to update the message a button sits on);
one that waits on slow work (extraction, joining voice) is deferred first (type 5, or type 6 for
a component) and its final answer edits the original response.  Anything said after that is a
follow-up message.  The callback is POSTed at most once per interaction: the REST client never
retries it, and this object refuses to send a second one.

One ``Responder`` belongs to whichever task handles the interaction; it is not shared.
"""

from __future__ import annotations

import enum
from typing import Any, Final, Protocol

import attrs
import structlog

log = structlog.get_logger(__name__)

CHANNEL_MESSAGE: Final = 4  # callback: reply with a message
DEFERRED_CHANNEL_MESSAGE: Final = 5  # callback: "thinking…", edit the original later
DEFERRED_UPDATE_MESSAGE: Final = 6  # callback for components: edit the message later
UPDATE_MESSAGE: Final = 7  # callback for components: edit the message the component is on
AUTOCOMPLETE_RESULT: Final = 8
EPHEMERAL: Final = 1 << 6


class InteractionRest(Protocol):
    """The REST calls an interaction needs (implemented by musicbot.rest's client)."""

    async def create_interaction_response(
        self, interaction_id: int, token: str, body: dict[str, Any], *, with_response: bool = False
    ) -> Any: ...

    async def edit_original_response(
        self, application_id: int, token: str, body: dict[str, Any]
    ) -> Any: ...

    async def create_followup(
        self, application_id: int, token: str, body: dict[str, Any]
    ) -> Any: ...


class Stage(enum.Enum):
    NEW = "new"
    DEFERRED = "deferred"
    ANSWERED = "answered"


@attrs.define
class Responder:
    rest: InteractionRest
    application_id: int
    interaction_id: int
    token: str = attrs.field(repr=False)  # an interaction token is a credential for 15 min
    locale: str | None = None
    is_component: bool = False
    stage: Stage = Stage.NEW
    ephemeral_defer: bool = False

    async def defer(self, *, ephemeral: bool = False) -> None:
        """Acknowledge now, answer later (no-op once acknowledged)."""
        if self.stage is not Stage.NEW:
            return
        kind = DEFERRED_UPDATE_MESSAGE if self.is_component else DEFERRED_CHANNEL_MESSAGE
        body: dict[str, Any] = {"type": kind}
        if ephemeral and not self.is_component:
            body["data"] = {"flags": EPHEMERAL}
        self.stage = Stage.DEFERRED
        self.ephemeral_defer = ephemeral
        await self.rest.create_interaction_response(self.interaction_id, self.token, body)

    async def send(self, message: dict[str, Any] | str, *, ephemeral: bool = False) -> None:
        """The answer: the callback, the edit of a deferred original, or a follow-up."""
        data: dict[str, Any] = {"content": message} if isinstance(message, str) else dict(message)
        data.setdefault("allowed_mentions", {"parse": []})  # never ping anyone by accident
        if ephemeral:
            data["flags"] = data.get("flags", 0) | EPHEMERAL
        if self.stage is Stage.NEW:
            self.stage = Stage.ANSWERED
            await self.rest.create_interaction_response(
                self.interaction_id, self.token, {"type": CHANNEL_MESSAGE, "data": data}
            )
        elif self.stage is Stage.DEFERRED:
            self.stage = Stage.ANSWERED
            data.pop("flags", None)  # the deferral decided visibility
            await self.rest.edit_original_response(self.application_id, self.token, data)
        else:
            await self.rest.create_followup(self.application_id, self.token, data)

    async def update(self, message: dict[str, Any]) -> None:
        """For a component: replace the message it sits on (or a follow-up if already answered)."""
        if not self.is_component:
            await self.send(message)
            return
        data = dict(message)
        if self.stage is Stage.NEW:
            self.stage = Stage.ANSWERED
            await self.rest.create_interaction_response(
                self.interaction_id, self.token, {"type": UPDATE_MESSAGE, "data": data}
            )
        elif self.stage is Stage.DEFERRED:
            self.stage = Stage.ANSWERED
            await self.rest.edit_original_response(self.application_id, self.token, data)
        else:
            await self.rest.create_followup(self.application_id, self.token, data)

    async def autocomplete(self, choices: list[dict[str, Any]]) -> None:
        if self.stage is not Stage.NEW:
            return
        self.stage = Stage.ANSWERED
        await self.rest.create_interaction_response(
            self.interaction_id,
            self.token,
            {"type": AUTOCOMPLETE_RESULT, "data": {"choices": choices[:25]}},
        )
