"""The emulator's REST server: the part of Discord's HTTP API v10 that the bot uses.

An ASGI application served by hypercorn on Trio (127.0.0.1, port chosen by the OS).  It keeps
application commands, interaction responses and channel messages, and behaves like Discord where
the bot could get it wrong:

* **Rate limits.**  Every answer carries ``X-RateLimit-*`` headers of a per-route bucket
  (per major parameter); a request past the bucket's limit, or past the global limit for
  non-interaction routes, gets a real 429 (body ``{message, retry_after, global}`` plus
  ``Retry-After``, ``X-RateLimit-Scope`` and, if global, ``X-RateLimit-Global``) and is recorded
  in ``EmulatorRest.rate_limit_violations``.  A forced 429 also closes the bucket for
  ``retry_after``, so a client that retries early gets a genuine second 429.  Within a window
  a forced 429 closed, a request counts as a violation only if it is the very request
  (``METHOD /path``) that was answered 429 and is sent again before its ``retry_after``; any
  other request may have been on its way (or granted by the client's limiter) before the 429
  arrived, so its 429 goes to ``EmulatorRest.rate_limit_in_flight``.  A naturally exhausted
  bucket or the 50/s global limit always counts: the headers said so.
* **Interactions.**  One callback per interaction; a second one is rejected with 400 / 40060.
  After a deferred (type 5) callback the first follow-up edits the original message.
* **Validation.**  With a ``validator`` (see :mod:`musicbot.emulator.openapi`), every JSON body is
  checked against Discord's OpenAPI description; a mismatch is answered with 400 / 50035 and
  recorded in ``EmulatorRest.validation_errors``.  With a ``response_validator`` the
  emulator's own 2xx answers are checked too (``EmulatorRest.response_errors``).
* ``GET …/commands`` without ``with_localizations=true`` leaves the localization maps out, and
  stored commands carry Discord's extra fields and defaults, so command sync must compare
  semantically.

* **Identity.**  ``GET /users/@me`` and ``GET /oauth2/applications/@me`` answer with the bot
  user READY names (every discord.py login calls both); messages are authored by it.
* **Errors.**  400s are Discord's 50035 bodies with per-field ``errors`` trees
  (:mod:`musicbot.emulator.rest_errors`); boolean query strings take ``True/true/1`` and
  ``False/false/0``; command bodies with fields or option types Discord does not know are
  refused (:mod:`musicbot.emulator.rest_commands`).

Tests steer it with ``faults`` (:class:`~musicbot.emulator.rest_faults.RestFaults`: forced
statuses, user/shared/global 429s, a global 429 without a body, slow answers),
:meth:`EmulatorRest.set_limit`, and wait with the ``wait_for_*`` methods (woken on every change,
never polling).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs

import trio

from musicbot.emulator.asgi import serve_lifespan
from musicbot.emulator.openapi import BodyValidator, ResponseValidator
from musicbot.emulator.rest_commands import check_commands
from musicbot.emulator.rest_errors import BadQuery, form_error
from musicbot.emulator.rest_faults import Forced, RestFaults
from musicbot.emulator.rest_routes import (
    DEFAULT_LIMIT,
    DEFAULT_LIMITS,
    MAJOR,
    ROUTES,
    RecordedRequest,
    Request,
    RouteLimit,
    ValidationProblem,
    _Route,
    _Window,
)
from musicbot.emulator.rest_store import Store

__all__ = [
    "EmulatorRest",
    "RecordedRequest",
    "Request",
    "RouteLimit",
    "ValidationProblem",
]

PREFIX: Final = "/api/v10"
GLOBAL_LIMIT: Final = 50  # per second, as Discord
INVALID_FORM_BODY: Final = 50035
ALREADY_ACKNOWLEDGED: Final = 40060

Json = Any
Handler = Callable[["Request"], tuple[int, Json]]


_CODES: Final = {
    "required": "BASE_TYPE_REQUIRED",
    "maxLength": "BASE_TYPE_BAD_LENGTH",
    "minLength": "BASE_TYPE_BAD_LENGTH",
    "maxItems": "BASE_TYPE_MAX_LENGTH",
    "minItems": "BASE_TYPE_MIN_LENGTH",
    "enum": "BASE_TYPE_CHOICES",
    "const": "BASE_TYPE_CHOICES",
    "maximum": "NUMBER_TYPE_MAX",
    "minimum": "NUMBER_TYPE_MIN",
    "type": "BASE_TYPE_INVALID",
}


def _field_problems(problems: list[str]) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Schema problems as ``(path, Discord-style code, message)`` for a 50035 body."""
    out: list[tuple[tuple[str | int, ...], str, str]] = []
    for p in problems:
        path: tuple[str | int, ...] = getattr(p, "path", ())
        code = _CODES.get(getattr(p, "keyword", ""), "BASE_TYPE_INVALID")
        out.append((path, code, str(p)))
    return out


def _custom_ids(components: list[Any]) -> set[str]:
    ids: set[str] = set()
    for item in components:
        if isinstance(item, dict):
            if "custom_id" in item:
                ids.add(str(item["custom_id"]))
            ids |= _custom_ids(item.get("components") or [])
    return ids


def _bucket_hash(route_name: str) -> str:
    return hashlib.sha256(route_name.encode()).hexdigest()[:16]


class EmulatorRest:
    """The REST server plus its state and test controls (see the module docstring)."""

    def __init__(
        self,
        application_id: int,
        gateway_url_provider: Callable[[], str],
        validator: BodyValidator | None = None,
        *,
        response_validator: ResponseValidator | None = None,
        token: str | None = None,
        shards: int = 1,
        session_start_limit: Mapping[str, int] | None = None,
        limits: Mapping[str, RouteLimit] | None = None,
        default_limit: RouteLimit = DEFAULT_LIMIT,
        global_limit: int = GLOBAL_LIMIT,
        host: str = "127.0.0.1",
        bot_user: Mapping[str, Any] | None = None,
        on_commands: Callable[[int | None, list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """``bot_user`` is the application's bot user payload (READY's ``user``);
        ``on_commands(guild_id, stored)`` hears every accepted command PUT."""
        self.application_id = application_id
        self.store = Store(
            application_id, gateway_url_provider, bot_user=bot_user, on_commands=on_commands
        )
        self.store.shards = shards
        if session_start_limit is not None:
            self.store.session_start_limit = dict(session_start_limit)
        self._validator = validator
        self._response_validator = response_validator
        self._token = token
        self._limits: dict[str, RouteLimit] = dict(DEFAULT_LIMITS if limits is None else limits)
        self._default_limit = default_limit
        self._global_limit = global_limit
        self._host = host
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global_recent: deque[float] = deque()
        self._global_until = -math.inf
        self.faults = RestFaults()
        self._changed = trio.Event()
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[ValidationProblem] = []
        self.response_errors: list[ValidationProblem] = []  # the emulator's own shape bugs
        self.rate_limit_violations: list[RecordedRequest] = []
        self.rate_limit_in_flight: list[RecordedRequest] = []  # see the module docstring
        self._forced_until: dict[Any, float] = {}  # a window a forced 429 closed → until
        self._limited_by: Any = None  # the window the last genuine 429 came from
        # "METHOD /path" answered 429 → when it may be sent again (its retry_after)
        self._retry_at: dict[str, float] = {}

    # ---------------------------------------------------------------- test controls

    def force_status(
        self,
        route_pattern: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
        body: Json = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``route_pattern`` with ``status``.

        The pattern is matched (fnmatch) against ``"METHOD /path"`` without the ``/api/v10``
        prefix, e.g. ``"GET /gateway/bot"`` or ``"POST /interactions/*"``.  A forced 429 closes
        the route's bucket (or, with ``is_global``, every non-interaction route) for
        ``retry_after`` seconds, so an early retry meets a genuine 429.  (Same as
        ``faults.force_status``; see :class:`RestFaults` for shared and body-less 429s.)
        """
        self.faults.force_status(
            route_pattern,
            status,
            times=times,
            retry_after=retry_after,
            is_global=is_global,
            body=body,
        )

    def set_limit(self, route_name: str, limit: int, per: float) -> None:
        """Bucket size of a route, named ``"METHOD /openapi/{template}"``."""
        self._limits[route_name] = RouteLimit(limit=limit, per=per)

    @property
    def messages(self) -> Mapping[int, list[dict[str, Any]]]:
        """Messages per channel id, oldest first (deleted ones removed)."""
        return self.store.messages

    @property
    def interactions(self) -> Mapping[int, Any]:
        return self.store.interactions

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The application commands as the last accepted bulk PUT stored them, for a guild or
        (``None``) the global ones; a new list, empty before any PUT."""
        return list(self.store.commands.get(guild_id, []))

    def put_count(self, guild_id: int | None = None) -> int:
        """How many bulk command PUTs were accepted for the guild (``None``: global), so a
        test can tell whether the bot re-registered unchanged commands."""
        return self.store.put_counts.get(guild_id, 0)

    def register_interaction(
        self,
        interaction_id: int,
        token: str,
        *,
        channel_id: int = 0,
        type: int = 2,
        message_id: int | None = None,
    ) -> None:
        """Tell the REST side about an interaction the gateway dispatched (a component's
        ``message_id`` is the message callbacks 6 and 7 act on)."""
        self.store.register_interaction(
            interaction_id,
            token,
            channel_id,
            type,
            None if message_id is None else str(message_id),
        )

    def component_message(
        self, channel_id: int, custom_id: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """A copy of the message a pressed component sits on, as an interaction carries it.

        By ``message_id`` when given, else the newest message in the channel holding a
        component with ``custom_id``; when there is none, a bare stand-in message is stored
        (the world says the user pressed it, so it exists), so callbacks 6 and 7 can act on it.
        """
        found = None
        if message_id is not None:
            found = self.store._find(channel_id, str(message_id))
        else:
            for message in reversed(self.store.messages.get(channel_id, [])):
                if custom_id in _custom_ids(message.get("components") or []):
                    found = message
                    break
        if found is None:
            found = self.store._new_message(channel_id, {})
            if message_id is not None:
                found["id"] = str(message_id)
        copied: dict[str, Any] = json.loads(json.dumps(found))
        return copied

    async def _wait(self, check: Callable[[], Any]) -> Any:
        while True:
            changed = self._changed
            found = check()
            if found is not None:
                return found
            await changed.wait()

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool]
    ) -> RecordedRequest:
        """The first recorded request (any status) that ``predicate`` accepts, waiting for it
        if none does yet."""

        def check() -> RecordedRequest | None:
            return next((r for r in self.requests if predicate(r)), None)

        result: RecordedRequest = await self._wait(check)
        return result

    async def wait_for_interaction_response(self, interaction_id: int) -> Any:
        """The interaction's record once its callback has been accepted."""
        return await self._wait(
            lambda: (
                rec
                if (rec := self.store.interactions.get(interaction_id)) and rec.callbacks
                else None
            )
        )

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[dict[str, Any]], bool] = lambda m: True,
    ) -> dict[str, Any]:
        """The first message now in ``channel_id`` that ``predicate`` accepts, waiting for it
        if none does yet; it is the stored dict itself, so later edits show through."""

        def check() -> dict[str, Any] | None:
            msgs = self.store.messages.get(channel_id, [])
            return next((m for m in msgs if predicate(m)), None)

        result: dict[str, Any] = await self._wait(check)
        return result

    async def wait_for_change(self) -> None:
        """Return after the next request has been handled (e.g. for a console to redraw)."""
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ---------------------------------------------------------------- serving

    async def serve(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started`` gets ``base_url``."""
        from hypercorn.config import Config as HyperConfig
        from hypercorn.trio import serve

        config = HyperConfig()
        config.bind = [f"{self._host}:0"]
        config.keep_alive_timeout = 3600.0
        config.accesslog = None
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(serve, self, config)
            self.base_url = binds[0] + PREFIX
            task_status.started(self.base_url)

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Any],
        send: Callable[[dict[str, Any]], Any],
    ) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        delay = self.faults.take_delay(f"{scope['method']} {scope['path'].removeprefix(PREFIX)}")
        if delay > 0:
            await trio.sleep(delay)  # a slow answer, armed by a test
        status, body, extra = self._handle(scope["method"], scope["path"], query, headers, chunks)
        if extra.pop("x-emulator-no-body", None):
            payload, out = b"", [(b"content-type", b"text/plain")]
        elif status == 204:
            payload, out = b"", []
        else:
            payload, out = json.dumps(body).encode(), [(b"content-type", b"application/json")]
        out += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    # ---------------------------------------------------------------- one request

    def _handle(
        self,
        method: str,
        full_path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        chunks: list[bytes],
    ) -> tuple[int, Json, dict[str, str]]:
        now = trio.current_time()
        path = full_path[len(PREFIX) :] if full_path.startswith(PREFIX) else full_path
        route, params = self._match(method, path) if full_path.startswith(PREFIX) else (None, {})
        raw = b"".join(chunks)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<invalid json>"
        status, result, extra = self._respond(route, params, method, path, query, headers, body)
        rec = RecordedRequest(
            method=method,
            path=path,
            route=route.name if route else f"{method} ?",
            params=params,
            query=dict(query),
            json=body,
            time=now,
            status=status,
            user_agent=headers.get("user-agent", ""),
        )
        self.requests.append(rec)
        target = f"{method} {path}"
        if status == 429 and "x-emulator-forced" not in extra:
            in_flight = False
            if now < self._forced_until.get(self._limited_by, -math.inf):
                # Closed by a forced 429: only this very request sent again early is a sure
                # violation; any other may have been on its way (or granted) before the 429.
                in_flight = now >= self._retry_at.get(target, -math.inf)
            (self.rate_limit_in_flight if in_flight else self.rate_limit_violations).append(rec)
        if status == 429 and isinstance(result, dict):
            retry_after = float(result.get("retry_after") or 0.0)
            self._retry_at[target] = max(self._retry_at.get(target, -math.inf), now + retry_after)
        extra.pop("x-emulator-forced", None)
        self._notify()
        return status, result, extra

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in ROUTES:
            if route.method == method and (m := route.regex.match(path)):
                return route, m.groupdict()
        return None, {}

    def _respond(
        self,
        route: _Route | None,
        params: dict[str, str],
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: Json,
    ) -> tuple[int, Json, dict[str, str]]:
        self._limited_by = None
        if route is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        if route.auth and not self._authorized(headers.get("authorization", "")):
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        now = trio.current_time()
        bucket_key = (route.name, ":".join(params[p] for p in MAJOR if p in params))
        forced = self.faults.take_forced(f"{method} {path}")
        if forced is not None and forced.status != 429:
            return forced.status, forced.body or {"message": "emulated failure", "code": 0}, {}
        if not route.exempt_global:
            while self._global_recent and self._global_recent[0] <= now - 1.0:
                self._global_recent.popleft()
            if now < self._global_until:
                self._limited_by = "global"
                return self._too_many(self._global_until - now, is_global=True, headers={})
            if len(self._global_recent) >= self._global_limit:
                retry = self._global_recent[0] + 1.0 - now
                return self._too_many(retry, is_global=True, headers={})
        window = self._window(route, bucket_key, now)
        if forced is not None:
            self._forced_until["global" if forced.is_global else bucket_key] = (
                now + forced.retry_after
            )
            if forced.is_global:
                self._global_until = max(self._global_until, now + forced.retry_after)
            else:
                window.used = self._limit(route).limit
                window.reset_at = now + forced.retry_after  # closed for exactly that long
            return self._forced_429(forced, self._rl_headers(route, window, now))
        if window.used >= self._limit(route).limit:
            self._limited_by = bucket_key
            headers_now = self._rl_headers(route, window, now)
            return self._too_many(window.reset_at - now, is_global=False, headers=headers_now)
        window.used += 1
        if not route.exempt_global:
            self._global_recent.append(now)
        rl = self._rl_headers(route, window, now)
        if route.handler == "put_commands" and (known := check_commands(body)):
            # Discord's own checks name the exact field; they go before the schema's.
            problems = [f"{'/'.join(map(str, p))}: {code} {msg}" for p, code, msg in known]
            self.validation_errors.append(
                ValidationProblem(method=method, path=path, problems=tuple(problems))
            )
            return 400, form_error(known), rl
        if self._validator is not None and method in ("POST", "PUT", "PATCH"):
            problems = self._validator(method.lower(), route.template, body)
            if problems:
                self.validation_errors.append(
                    ValidationProblem(method=method, path=path, problems=tuple(problems))
                )
                return 400, form_error(_field_problems(problems)), rl
        handler: Callable[..., tuple[int, Json]] = getattr(self.store, route.handler)
        try:
            status, result = handler(params=params, query=query, body=body)
        except BadQuery as bad:
            return 400, bad.body, rl
        if self._response_validator is not None and 200 <= status < 300:
            problems = self._response_validator(method.lower(), route.template, status, result)
            if problems:
                problem = ValidationProblem(method=method, path=path, problems=tuple(problems))
                self.response_errors.append(problem)
        return status, result, rl

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme != "Bot" or not token:
            return False
        return self._token is None or token == self._token

    def _forced_429(
        self, forced: Forced, headers: dict[str, str]
    ) -> tuple[int, Json, dict[str, str]]:
        status, result, extra = self._too_many(
            forced.retry_after, is_global=forced.is_global, headers=headers
        )
        extra["X-RateLimit-Scope"] = forced.scope
        if forced.is_global:
            for key in [k for k in extra if k.startswith("X-RateLimit-") and "Global" not in k]:
                if key != "X-RateLimit-Scope":
                    del extra[key]  # a global 429 names no bucket
        extra["x-emulator-forced"] = "1"
        if not forced.json_body:
            extra["x-emulator-no-body"] = "1"
        return status, forced.body or result, extra

    def _limit(self, route: _Route) -> RouteLimit:
        return self._limits.get(route.name, self._default_limit)

    def _window(self, route: _Route, key: tuple[str, str], now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = _Window(reset_at=now + self._limit(route).per)
            self._windows[key] = window
        return window

    def _rl_headers(self, route: _Route, window: _Window, now: float) -> dict[str, str]:
        limit = self._limit(route).limit
        reset_after = max(0.0, window.reset_at - now)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - window.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": _bucket_hash(route.name),
        }

    def _too_many(
        self, retry_after: float, *, is_global: bool, headers: dict[str, str]
    ) -> tuple[int, Json, dict[str, str]]:
        retry_after = max(retry_after, 0.001)
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        extra = dict(headers)
        extra["Retry-After"] = str(math.ceil(retry_after))
        extra["X-RateLimit-Scope"] = "global" if is_global else "user"
        if is_global:
            extra["X-RateLimit-Global"] = "true"
        return 429, body, extra
