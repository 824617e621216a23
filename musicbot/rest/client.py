"""Discord REST v10 client on one ``httpx.AsyncClient`` per process.

Every request takes a permit from the rate-limiter actor first and hands it back with what the
response said.  Retry policy:

* 429: wait (in the limiter) and send again, up to ``max_429_retries`` times; the request was
  rejected, not processed.  A 429 from the edge with no JSON body (Cloudflare) is global: every
  route waits.  A 429 whose ``X-RateLimit-Scope`` is ``shared`` is a limit on the *resource*
  (a busy channel, for every bot at once), not on us: its ``retry_after`` can be twenty
  minutes, so it is surfaced at once as :class:`~musicbot.rest.errors.RateLimited` with
  ``scope="shared"`` instead of holding the caller (and the bucket) for that long.
* A 429 whose ``retry_after`` is longer than ``max_429_wait`` (an hour-long edge ban, a
  broken peer) is surfaced at once rather than holding the caller; the limiter still keeps the
  bucket (or every route, if global) closed until then.
* 502/503/504 and transport errors: retried with exponential backoff only for idempotent
  methods (GET, PUT, DELETE); a connection that was never established is retried for any method.
* An interaction callback is never sent twice *after it may have been processed* (a 5xx or a
  lost answer could mean it was): a second answer would fail, and its 3 s deadline leaves no
  room anyway.  A 429 is different: Discord did not process it, so it is retried once if its
  ``retry_after`` still fits in the interaction's window (``CALLBACK_RETRY_WINDOW``).
* A 400's per-field ``errors`` (why a command sync or a message was refused) are logged.

The bot token is only in the ``httpx`` client's default headers; reprs, logs and errors show
routes with tokens redacted.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Final

import httpx
import structlog
import trio

from musicbot.config import Secret
from musicbot.rest import ratelimit
from musicbot.rest.errors import TransportError, error_for, field_errors
from musicbot.rest.messages import Outcome, RateLimiterMsg
from musicbot.rest.ratelimit import RateLimiter
from musicbot.rest.routes import Route

log = structlog.get_logger(__name__)

USER_AGENT: Final = "DiscordBot (https://github.com/musicbot, 0.1.0)"
RETRY_STATUSES: Final = frozenset({502, 503, 504})
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
LIMITER_INBOX: Final = 64
# An interaction must be answered within 3 s of its creation; a 429 on the callback is retried
# once only if the retry can still be sent this long after the first attempt.
CALLBACK_RETRY_WINDOW: Final = 2.0
# A 429 asking for a longer wait than this is not waited for by the caller (see above).
MAX_429_WAIT: Final = 60.0

JSON = Any
# on_response(route template key, HTTP status or None for a transport error, X-RateLimit-Scope)
ResponseHook = Callable[[str, int | None, str], None]


def _no_hook(_route: str, _status: int | None, _scope: str) -> None:
    pass


def _float(value: str | None) -> float | None:
    """A finite number from a header (or body) value; ``None`` for anything else."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _outcome(response: httpx.Response, body: JSON) -> Outcome:
    h = response.headers
    limit, remaining = _float(h.get("x-ratelimit-limit")), _float(h.get("x-ratelimit-remaining"))
    retry_after = 0.0
    is_global = h.get("x-ratelimit-global", "").lower() == "true"
    if response.status_code == 429:
        # The body's float is precise; the header (whole seconds) is the fallback, e.g. for a
        # 429 from the edge proxy that has no JSON body.  Such a 429 comes from Discord's edge
        # (Cloudflare), before any bucket: it limits every request, so it is global.
        from_body = None
        if isinstance(body, dict):
            from_body = _float(str(body.get("retry_after")))
            is_global = is_global or bool(body.get("global", False))
        else:
            is_global = True
        retry_after = from_body if from_body is not None else _float(h.get("retry-after")) or 1.0
        if not math.isfinite(retry_after) or retry_after < 0:
            retry_after = 1.0
    return Outcome(
        status=response.status_code,
        bucket=h.get("x-ratelimit-bucket"),
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining) if remaining is not None else None,
        reset_after=_float(h.get("x-ratelimit-reset-after")),
        retry_after=retry_after,
        is_global=is_global,
        scope=h.get("x-ratelimit-scope", ""),
    )


def _body(response: httpx.Response) -> JSON:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
            pass
    return response.text


class RestClient:
    """Typed-argument methods that return Discord's JSON (``dict`` / ``list``) or ``None``."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        limiter: RateLimiter,
        max_retries: int = 3,
        max_429_retries: int = 5,
        max_429_wait: float = MAX_429_WAIT,
        retry_base_delay: float = 0.5,
        on_response: ResponseHook = _no_hook,
    ) -> None:
        self._http = http
        self._on_response = on_response  # every attempt's result, e.g. for metrics and health
        self._limiter = limiter
        self._max_retries = max_retries
        self._max_429_retries = max_429_retries
        self._max_429_wait = max_429_wait
        self._retry_base_delay = retry_base_delay

    def __repr__(self) -> str:
        return f"RestClient(base_url={str(self._http.base_url)!r})"

    async def request(
        self,
        route: Route,
        *,
        json: JSON = None,
        query: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> JSON:
        """Send one request through the limiter with the retry policy above.

        ``deadline`` (Trio clock) bounds the one 429 retry of an interaction callback further,
        for a caller that knows when the interaction arrived."""
        once = route.is_interaction_callback
        failures = 0
        limited = 0
        started = trio.current_time()
        while True:
            permit = await self._limiter.acquire(route)
            outcome: Outcome | None = None
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                try:
                    response = await self._http.request(
                        route.method, route.path.lstrip("/"), json=json, params=query
                    )
                except httpx.TransportError as exc:
                    error = exc
                    self._on_response(route.key, None, "")
                else:
                    body = _body(response)
                    outcome = _outcome(response, body)
                    self._on_response(route.key, response.status_code, outcome.scope)
            finally:
                await self._limiter.done(permit, outcome)

            if response is None:
                never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                retryable = not once and (route.idempotent or never_sent)
                reason = f"{type(error).__name__}: {error}"
                if retryable and failures < self._max_retries:
                    failures += 1
                    log.warning("rest_retry", route=repr(route), reason=reason, attempt=failures)
                    await trio.sleep(self._backoff(failures))
                    continue
                raise TransportError(route.method, route.redacted, reason) from None

            status = response.status_code
            log.debug("rest_response", route=repr(route), status=status)
            if 200 <= status < 300:
                return body
            assert outcome is not None
            if status == 429 and outcome.scope == "shared":
                log.warning(
                    "rest_shared_rate_limited",
                    route=repr(route),
                    retry_after=outcome.retry_after,
                )
            elif (
                status == 429
                and not once
                and limited < self._max_429_retries
                and outcome.retry_after <= self._max_429_wait
            ):
                limited += 1
                continue  # the limiter now holds the next attempt until the retry_after
            elif (
                status == 429
                and once
                and limited == 0
                and self._callback_retry_fits(started, deadline, outcome)
            ):
                limited += 1
                log.warning(
                    "rest_callback_retry", route=repr(route), retry_after=outcome.retry_after
                )
                if outcome.is_global:  # callbacks are exempt from the limiter's global pause
                    await trio.sleep(outcome.retry_after)
                continue
            retryable = status in RETRY_STATUSES and not once and route.idempotent
            if retryable and failures < self._max_retries:
                failures += 1
                log.warning("rest_retry", route=repr(route), status=status, attempt=failures)
                await trio.sleep(self._backoff(failures))
                continue
            failure = error_for(
                status=status,
                body=body,
                method=route.method,
                route=route.redacted,
                retry_after=outcome.retry_after,
                is_global=outcome.is_global,
                scope=outcome.scope,
            )
            if status == 400:
                log.warning(
                    "rest_bad_request",
                    route=repr(route),
                    code=failure.code,
                    message=failure.message[:200],
                    errors=field_errors(failure.errors),
                )
            raise failure

    def _callback_retry_fits(
        self, started: float, deadline: float | None, outcome: Outcome
    ) -> bool:
        last = started + CALLBACK_RETRY_WINDOW
        if deadline is not None:
            last = min(last, deadline)
        return trio.current_time() + outcome.retry_after <= last

    def _backoff(self, attempt: int) -> float:
        delay: float = self._retry_base_delay * 2 ** (attempt - 1)
        return delay * random.uniform(1.0, 1.5)

    # ---------------------------------------------------------------- gateway / application

    async def get_gateway_bot(self) -> dict[str, Any]:
        """``GET /gateway/bot``: the gateway URL, recommended shard count and session start
        limit."""
        result: dict[str, Any] = await self.request(Route.of("GET", "/gateway/bot"))
        return result

    async def get_current_application(self) -> dict[str, Any]:
        """``GET /applications/@me``: the bot's application."""
        result: dict[str, Any] = await self.request(Route.of("GET", "/applications/@me"))
        return result

    # ---------------------------------------------------------------- commands

    async def get_global_commands(
        self, application_id: int, *, with_localizations: bool = True
    ) -> list[dict[str, Any]]:
        """The global commands of ``application_id`` (with their localizations unless told
        otherwise)."""
        route = Route.of(
            "GET", "/applications/{application_id}/commands", application_id=application_id
        )
        query = {"with_localizations": "true"} if with_localizations else None
        result: list[dict[str, Any]] = await self.request(route, query=query)
        return result

    async def bulk_overwrite_global_commands(
        self, application_id: int, commands: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """``PUT`` the global commands of ``application_id``: replaces them all; the commands
        Discord stored."""
        route = Route.of(
            "PUT", "/applications/{application_id}/commands", application_id=application_id
        )
        result: list[dict[str, Any]] = await self.request(route, json=list(commands))
        return result

    async def get_guild_commands(
        self, application_id: int, guild_id: int, *, with_localizations: bool = True
    ) -> list[dict[str, Any]]:
        """The commands of ``application_id`` in one guild (with their localizations unless told
        otherwise)."""
        route = Route.of(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=application_id,
            guild_id=guild_id,
        )
        query = {"with_localizations": "true"} if with_localizations else None
        result: list[dict[str, Any]] = await self.request(route, query=query)
        return result

    async def bulk_overwrite_guild_commands(
        self, application_id: int, guild_id: int, commands: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """``PUT`` the commands of ``application_id`` in one guild: replaces them all; the commands
        Discord stored."""
        route = Route.of(
            "PUT",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=application_id,
            guild_id=guild_id,
        )
        result: list[dict[str, Any]] = await self.request(route, json=list(commands))
        return result

    # ---------------------------------------------------------------- interactions

    async def create_interaction_response(
        self,
        interaction_id: int,
        interaction_token: str,
        body: Mapping[str, Any],
        *,
        with_response: bool = False,
        deadline: float | None = None,
    ) -> dict[str, Any] | None:
        """The callback: never resent once it may have been processed (a 429 is retried once
        within the window, see the module docstring).  Returns the callback response if asked."""
        route = Route.of(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            interaction_id=interaction_id,
            interaction_token=interaction_token,
        )
        query = {"with_response": "true"} if with_response else None
        result: dict[str, Any] | None = await self.request(
            route, json=dict(body), query=query, deadline=deadline
        )
        return result

    def _webhook(
        self, method: str, suffix: str, application_id: int, token: str, **p: int
    ) -> Route:
        return Route.of(
            method,
            "/webhooks/{webhook_id}/{webhook_token}" + suffix,
            webhook_id=application_id,
            webhook_token=token,
            **p,
        )

    async def edit_original_response(
        self, application_id: int, interaction_token: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit an interaction's original response; the edited message."""
        route = self._webhook("PATCH", "/messages/@original", application_id, interaction_token)
        result: dict[str, Any] = await self.request(route, json=dict(body))
        return result

    async def delete_original_response(self, application_id: int, interaction_token: str) -> None:
        """Delete an interaction's original response."""
        route = self._webhook("DELETE", "/messages/@original", application_id, interaction_token)
        await self.request(route)

    async def create_followup(
        self, application_id: int, interaction_token: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Send a follow-up message to an interaction; the message created."""
        route = self._webhook("POST", "", application_id, interaction_token)
        result: dict[str, Any] = await self.request(route, json=dict(body), query={"wait": "true"})
        return result

    async def edit_followup(
        self,
        application_id: int,
        interaction_token: str,
        message_id: int,
        body: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Edit a follow-up message of an interaction; the edited message."""
        route = self._webhook(
            "PATCH", "/messages/{message_id}", application_id, interaction_token,
            message_id=message_id,
        )  # fmt: skip
        result: dict[str, Any] = await self.request(route, json=dict(body))
        return result

    async def delete_followup(
        self, application_id: int, interaction_token: str, message_id: int
    ) -> None:
        """Delete a follow-up message of an interaction."""
        route = self._webhook(
            "DELETE", "/messages/{message_id}", application_id, interaction_token,
            message_id=message_id,
        )  # fmt: skip
        await self.request(route)

    # ---------------------------------------------------------------- channel messages

    async def create_message(self, channel_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """Post a message in ``channel_id``; the message created."""
        route = Route.of("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        result: dict[str, Any] = await self.request(route, json=dict(body))
        return result

    async def edit_message(
        self, channel_id: int, message_id: int, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit message ``message_id`` in ``channel_id``; the edited message."""
        route = Route.of(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        result: dict[str, Any] = await self.request(route, json=dict(body))
        return result


@asynccontextmanager
async def open_rest_client(
    *,
    api_base: str,
    token: Secret,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    global_limit: int = ratelimit.GLOBAL_LIMIT,
    invalid_limit: int = ratelimit.INVALID_LIMIT,
    max_retries: int = 3,
    max_429_retries: int = 5,
    max_429_wait: float = MAX_429_WAIT,
    retry_base_delay: float = 0.5,
    on_response: ResponseHook = _no_hook,
) -> AsyncIterator[RestClient]:
    """Start the rate-limiter actor and the HTTP client; both stop when the block exits."""
    send, receive = trio.open_memory_channel[RateLimiterMsg](LIMITER_INBOX)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(ratelimit.run, receive, global_limit=global_limit, invalid_limit=invalid_limit)
        )
        async with (
            send,
            httpx.AsyncClient(
                base_url=api_base.rstrip("/") + "/",
                headers={"Authorization": f"Bot {token.value}", "User-Agent": USER_AGENT},
                timeout=timeout,
                follow_redirects=False,
            ) as http,
        ):
            yield RestClient(
                http=http,
                limiter=RateLimiter(send),
                max_retries=max_retries,
                max_429_retries=max_429_retries,
                max_429_wait=max_429_wait,
                retry_base_delay=retry_base_delay,
                on_response=on_response,
            )
