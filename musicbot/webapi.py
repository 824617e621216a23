"""Pieces shared by the bot's small JSON API clients (LRCLIB in :mod:`musicbot.lyrics`,
Spotify in :mod:`musicbot.spotify`).

Theory.  Each of these clients talks to one configured base URL and nothing else: redirects
are never followed (a 3xx is an unavailable service, not a new host), the environment's proxy
settings are ignored (``trust_env=False``), a link the service hands back (a ``next`` page) is
followed only when it is on the configured origin and under its path (:func:`on_base`), and a
body is read up to a fixed size (:func:`read_body`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx


class BodyTooLarge(Exception):
    """An answer was larger than its client accepts."""


def pinned_client(**options: Any) -> httpx.AsyncClient:
    """An HTTP client that follows no redirect and ignores proxy variables."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, **options)


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, at most ``limit`` bytes; raises
    :class:`BodyTooLarge` beyond."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
    return bytes(body)


def _origin(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = parts.port if parts.port is not None else default
    return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path


def on_base(url: str, base: str) -> bool:
    """Whether ``url`` is on ``base``'s scheme, host and port, under its path, and carries
    no credentials (``user@host``): the only links a pinned client follows."""
    try:
        scheme, host, port, path = _origin(url)
        b_scheme, b_host, b_port, b_path = _origin(base)
        userinfo = "@" in urlsplit(url).netloc
    except ValueError:  # a port that is not a number
        return False
    prefix = b_path.rstrip("/") + "/"
    return (
        not userinfo
        and bool(host)
        and (scheme, host, port) == (b_scheme, b_host, b_port)
        and (path + "/").startswith(prefix)
    )


__all__ = ["BodyTooLarge", "on_base", "pinned_client", "read_body"]
