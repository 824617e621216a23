"""Discord REST v10: the client, its rate-limiter actor, routes and typed errors."""

from musicbot.rest.client import USER_AGENT, RestClient, open_rest_client
from musicbot.rest.errors import (
    BadRequest,
    Forbidden,
    HTTPError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from musicbot.rest.routes import Route

__all__ = [
    "USER_AGENT",
    "BadRequest",
    "Forbidden",
    "HTTPError",
    "NotFound",
    "RateLimited",
    "RestClient",
    "Route",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "open_rest_client",
]
