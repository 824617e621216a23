"""The route table and the records of the emulator's REST server (:mod:`musicbot.emulator.rest`).

Each route is Discord's OpenAPI path template and method, the name of the
:class:`~musicbot.emulator.rest_store.Store` method that answers it, whether it needs the bot
token, and whether it is exempt from the global limit (interaction callbacks and webhooks are).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

Json = Any


@attrs.frozen(kw_only=True)
class RouteLimit:
    limit: int
    per: float  # seconds


@attrs.frozen(kw_only=True)
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix
    route: str  # "METHOD /openapi/{template}"
    params: Mapping[str, str]
    query: Mapping[str, str]
    json: Json
    time: float  # trio clock
    status: int
    user_agent: str = ""


@attrs.frozen(kw_only=True)
class ValidationProblem:
    method: str
    path: str
    problems: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    json: Json
    headers: Mapping[str, str]


@attrs.define
class _Window:
    reset_at: float
    used: int = 0


@attrs.frozen
class _Route:
    method: str
    template: str  # OpenAPI path
    regex: re.Pattern[str]
    handler: str  # name of a Store method
    auth: bool  # needs "Authorization: Bot …"
    exempt_global: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def _route(method: str, template: str, handler: str) -> _Route:
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
    interaction = template.startswith(("/interactions/", "/webhooks/"))
    return _Route(
        method, template, re.compile(pattern + "$"), handler, not interaction, interaction
    )


_APP = "/applications/{application_id}"
_HOOK = "/webhooks/{webhook_id}/{webhook_token}"
ROUTES: Final = (
    _route("GET", "/gateway/bot", "gateway_bot"),
    _route("GET", "/applications/@me", "application"),
    _route("GET", "/oauth2/applications/@me", "application"),
    _route("GET", "/users/@me", "current_user"),
    _route("GET", _APP + "/commands", "get_commands"),
    _route("PUT", _APP + "/commands", "put_commands"),
    _route("GET", _APP + "/guilds/{guild_id}/commands", "get_commands"),
    _route("PUT", _APP + "/guilds/{guild_id}/commands", "put_commands"),
    _route("POST", "/interactions/{interaction_id}/{interaction_token}/callback", "callback"),
    _route("GET", _HOOK + "/messages/@original", "get_webhook_message"),
    _route("PATCH", _HOOK + "/messages/@original", "edit_webhook_message"),
    _route("DELETE", _HOOK + "/messages/@original", "delete_webhook_message"),
    _route("POST", _HOOK, "followup"),
    _route("GET", _HOOK + "/messages/{message_id}", "get_webhook_message"),
    _route("PATCH", _HOOK + "/messages/{message_id}", "edit_webhook_message"),
    _route("DELETE", _HOOK + "/messages/{message_id}", "delete_webhook_message"),
    _route("POST", "/channels/{channel_id}/messages", "create_message"),
    _route("PATCH", "/channels/{channel_id}/messages/{message_id}", "edit_message"),
    _route("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message"),
)
MAJOR: Final = ("channel_id", "guild_id", "webhook_id", "webhook_token", "interaction_id")
DEFAULT_LIMIT: Final = RouteLimit(limit=5, per=5.0)
DEFAULT_LIMITS: Final[Mapping[str, RouteLimit]] = {
    "PUT /applications/{application_id}/commands": RouteLimit(limit=2, per=60.0),
    "PUT /applications/{application_id}/guilds/{guild_id}/commands": RouteLimit(limit=2, per=60.0),
}
