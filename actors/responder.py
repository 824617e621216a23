"""Answering one interaction: acknowledge within 3 s, then edit or follow up.

Theory: Discord requires an interaction callback within 3 seconds.  A command whose answer is
quick is answered at once (callback type 4, or type 7 to update the message a button sits on);
one that waits on slow work (extraction, joining voice) is deferred first (type 5, or type 6 for
a component) and its final answer edits the original response.  Anything said after that is a
follow-up message.  The callback is POSTed at most once per interaction: the REST client never
retries it, and this object refuses to send a second one.

Deadlines.  ``received_at`` is the trio time the router saw the interaction.  The router
watches each one it hands to a guild actor (:func:`watch_deadline`): when no acknowledgement
has been sent ``AUTO_DEFER_AFTER`` seconds after arrival (a backed-up inbox, a slow handler),
it defers, so Discord never shows "the application did not respond".  The callback and the
calls that need it (edit of the original, follow-ups) are ordered by ``acknowledged``: an edit
waits until the deferral's POST is done.  An interaction token is valid for 15 minutes; past
``TOKEN_LIFETIME`` (with a margin) nothing is sent and :class:`InteractionExpired` is raised.

A ``Responder`` is used by the task answering the interaction and by the router's deadline
watch; every state change happens before an ``await``, so the two never both send a callback.
"""

from __future__ import annotations

import enum
from typing import Any, Final, Protocol

import attrs
import structlog
import trio

from musicbot.errors import MusicBotError

log = structlog.get_logger(__name__)

CHANNEL_MESSAGE: Final = 4  # callback: reply with a message
DEFERRED_CHANNEL_MESSAGE: Final = 5  # callback: "thinking…", edit the original later
DEFERRED_UPDATE_MESSAGE: Final = 6  # callback for components: edit the message later
UPDATE_MESSAGE: Final = 7  # callback for components: edit the message the component is on
AUTOCOMPLETE_RESULT: Final = 8
EPHEMERAL: Final = 1 << 6
CALLBACK_DEADLINE: Final = 3.0  # Discord drops an interaction not acknowledged within 3 s
AUTO_DEFER_AFTER: Final = 2.2  # defer for the handler when no answer is ready by then
TOKEN_LIFETIME: Final = 15 * 60.0  # an interaction token works for 15 minutes
TOKEN_MARGIN: Final = 10.0  # stop using a token this long before it expires


@attrs.define(auto_exc=True, eq=False)
class InteractionExpired(MusicBotError):
    """The interaction's token is (about to be) past its 15 minutes: nothing was sent."""

    interaction_id: int
    age: float

    def __str__(self) -> str:
        return f"interaction {self.interaction_id} is {self.age:.0f} s old; its token expired"


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
    received_at: float = attrs.field(factory=trio.current_time)
    # Set once the callback POST has returned (or failed): edits and follow-ups wait for it.
    acknowledged: trio.Event = attrs.field(factory=trio.Event, repr=False)
    auto_deferred: bool = False

    def age(self) -> float:
        return trio.current_time() - self.received_at

    def _check_alive(self) -> None:
        age = self.age()
        if age > TOKEN_LIFETIME - TOKEN_MARGIN:
            raise InteractionExpired(self.interaction_id, age)

    async def _callback(self, body: dict[str, Any]) -> None:
        try:
            await self.rest.create_interaction_response(self.interaction_id, self.token, body)
        finally:
            self.acknowledged.set()

    async def _after_ack(self) -> None:
        await self.acknowledged.wait()
        self._check_alive()

    async def defer(self, *, ephemeral: bool = False) -> None:
        """Acknowledge now, answer later (no-op once acknowledged)."""
        if self.stage is not Stage.NEW:
            return
        self._check_alive()
        kind = DEFERRED_UPDATE_MESSAGE if self.is_component else DEFERRED_CHANNEL_MESSAGE
        body: dict[str, Any] = {"type": kind}
        if ephemeral and not self.is_component:
            body["data"] = {"flags": EPHEMERAL}
        self.stage = Stage.DEFERRED
        self.ephemeral_defer = ephemeral
        await self._callback(body)

    async def send(self, message: dict[str, Any] | str, *, ephemeral: bool = False) -> None:
        """The answer: the callback, the edit of a deferred original, or a follow-up."""
        data: dict[str, Any] = {"content": message} if isinstance(message, str) else dict(message)
        data.setdefault("allowed_mentions", {"parse": []})  # never ping anyone by accident
        if ephemeral:
            data["flags"] = data.get("flags", 0) | EPHEMERAL
        self._check_alive()
        if self.stage is Stage.NEW:
            self.stage = Stage.ANSWERED
            await self._callback({"type": CHANNEL_MESSAGE, "data": data})
        elif self.stage is Stage.DEFERRED:
            self.stage = Stage.ANSWERED
            data.pop("flags", None)  # the deferral decided visibility
            await self._after_ack()
            await self.rest.edit_original_response(self.application_id, self.token, data)
        else:
            await self._after_ack()
            await self.rest.create_followup(self.application_id, self.token, data)

    async def update(self, message: dict[str, Any]) -> None:
        """For a component: replace the message it sits on (or a follow-up if already answered)."""
        if not self.is_component:
            await self.send(message)
            return
        data = dict(message)
        self._check_alive()
        if self.stage is Stage.NEW:
            self.stage = Stage.ANSWERED
            await self._callback({"type": UPDATE_MESSAGE, "data": data})
        elif self.stage is Stage.DEFERRED:
            self.stage = Stage.ANSWERED
            await self._after_ack()
            await self.rest.edit_original_response(self.application_id, self.token, data)
        else:
            await self._after_ack()
            await self.rest.create_followup(self.application_id, self.token, data)

    async def autocomplete(self, choices: list[dict[str, Any]]) -> None:
        if self.stage is not Stage.NEW or self.age() > CALLBACK_DEADLINE:
            return  # too late: Discord no longer shows suggestions for it
        self.stage = Stage.ANSWERED
        await self._callback({"type": AUTOCOMPLETE_RESULT, "data": {"choices": choices[:25]}})


async def watch_deadline(reply: Responder, *, after: float = AUTO_DEFER_AFTER) -> None:
    """Defer ``reply`` if nothing acknowledged it ``after`` seconds from its arrival.

    Run by the router for every interaction it hands to a guild actor; returns as soon as the
    interaction is acknowledged (usually long before the deadline)."""
    with trio.move_on_at(reply.received_at + after):
        await reply.acknowledged.wait()
        return
    if reply.stage is not Stage.NEW:
        return  # a callback is on its way
    reply.auto_deferred = True
    log.info("interaction_auto_deferred", interaction_id=reply.interaction_id, age=reply.age())
    try:
        await reply.defer()
    except Exception as exc:
        log.warning("interaction_auto_defer_failed", error=repr(exc))
