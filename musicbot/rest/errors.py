"""Typed REST errors.

Every error carries the fields Discord sent (HTTP status, JSON error ``code``, ``message`` and the
nested ``errors`` tree of a 400 "Invalid Form Body") plus the method and the *redacted* route
(webhook and interaction tokens replaced by ``{token}``).  None of them ever holds the bot token:
it only lives in the HTTP client's default headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from musicbot.errors import MusicBotError

# Discord JSON error codes the bot reacts to (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_MESSAGE: Final = 10008
UNKNOWN_WEBHOOK: Final = 10015
UNKNOWN_INTERACTION: Final = 10062
INTERACTION_ALREADY_ACKNOWLEDGED: Final = 40060
MISSING_ACCESS: Final = 50001
MISSING_PERMISSIONS: Final = 50013
INVALID_FORM_BODY: Final = 50035


@attrs.define(auto_exc=True, eq=False)
class HTTPError(MusicBotError):
    """A non-2xx answer from Discord."""

    status: int
    code: int
    message: str
    errors: Mapping[str, Any] | None
    method: str
    route: str

    def __str__(self) -> str:
        text = f"{self.method} {self.route} -> {self.status}"
        if self.code:
            text += f" (code {self.code})"
        if self.message:
            text += f": {self.message}"
        fields = field_errors(self.errors)
        if fields:
            shown = "; ".join(fields[:5])
            more = f"; and {len(fields) - 5} more" if len(fields) > 5 else ""
            text += f" [{shown}{more}]"
        return text


@attrs.define(auto_exc=True, eq=False)
class BadRequest(HTTPError):
    """400: the body or the parameters were rejected; ``errors`` says where."""


@attrs.define(auto_exc=True, eq=False)
class Unauthorized(HTTPError):
    """401: the token is wrong or was reset."""


@attrs.define(auto_exc=True, eq=False)
class Forbidden(HTTPError):
    """403: the bot lacks access or a permission."""


@attrs.define(auto_exc=True, eq=False)
class NotFound(HTTPError):
    """404: unknown channel, message, webhook or interaction."""


@attrs.define(auto_exc=True, eq=False)
class RateLimited(HTTPError):
    """429 that was not retried (e.g. on an interaction callback, which is never resent)."""

    retry_after: float = 0.0
    is_global: bool = False
    scope: str = ""


@attrs.define(auto_exc=True, eq=False)
class ServerError(HTTPError):
    """5xx after the retries allowed for this request were used up."""


@attrs.define(auto_exc=True, eq=False)
class TransportError(MusicBotError):
    """No HTTP answer: connection refused, reset or timed out (after retries if allowed)."""

    method: str
    route: str
    reason: str

    def __str__(self) -> str:
        return f"{self.method} {self.route} failed: {self.reason}"


MAX_FIELD_ERRORS: Final = 50


def field_errors(errors: Mapping[str, Any] | None) -> list[str]:
    """Discord's nested ``errors`` tree of a 400 as ``"path.to.field: CODE message"`` lines.

    The tree nests objects by field name and arrays by index; each leaf is
    ``{"_errors": [{"code": ..., "message": ...}]}``.  Bounded (depth and count) because the
    body comes from the network.
    """
    out: list[str] = []

    def walk(node: Any, path: list[str], depth: int) -> None:
        if len(out) >= MAX_FIELD_ERRORS or depth > 12 or not isinstance(node, Mapping):
            return
        leaf = node.get("_errors")
        if isinstance(leaf, list):
            for item in leaf:
                if isinstance(item, Mapping):
                    where = ".".join(path) or "(body)"
                    code = str(item.get("code", ""))[:80]
                    message = str(item.get("message", ""))[:200]
                    out.append(f"{where}: {code} {message}".rstrip())
        for key, child in node.items():
            if key != "_errors":
                walk(child, [*path, str(key)[:80]], depth + 1)

    walk(errors, [], 0)
    return out[:MAX_FIELD_ERRORS]


_BY_STATUS: Final[dict[int, type[HTTPError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}


def error_for(
    *,
    status: int,
    body: Any,
    method: str,
    route: str,
    retry_after: float = 0.0,
    is_global: bool | None = None,
    scope: str = "",
) -> HTTPError:
    """Build the typed error for a failed response whose JSON body is ``body``."""
    code = 0
    message = ""
    errors: Mapping[str, Any] | None = None
    if isinstance(body, dict):
        raw_code = body.get("code", 0)
        code = raw_code if isinstance(raw_code, int) else 0
        message = str(body.get("message", ""))
        raw_errors = body.get("errors")
        errors = raw_errors if isinstance(raw_errors, dict) else None
    if status == 429:
        if is_global is None:
            is_global = bool(body.get("global", False)) if isinstance(body, dict) else True
        return RateLimited(
            status, code, message, errors, method, route, retry_after=retry_after,
            is_global=is_global, scope=scope,
        )  # fmt: skip
    if status >= 500:
        return ServerError(status, code, message, errors, method, route)
    cls = _BY_STATUS.get(status, HTTPError)
    return cls(status, code, message, errors, method, route)
