"""Connect-time egress guard: a tiny HTTP proxy that vets every address before connecting.

Theory.  :mod:`musicbot.safety` checks a link's host before extraction, but yt-dlp and ffmpeg
then fetch by themselves: they follow HTTP redirects (``https://allowed.example/x`` → 302 →
``http://169.254.169.254/``) and resolve names again (a DNS answer can change between our check
and their connect).  A check by *name* cannot close that gap; a check at *connect time* can.  So
both tools are told to use this proxy (yt-dlp's ``proxy`` option, ffmpeg's ``-http_proxy``), and
the proxy is the only thing that opens the outbound connection:

1. for each client connection it reads one request head (bounded: ``MAX_HEAD`` bytes within
   ``HEAD_TIMEOUT``): ``CONNECT host:port`` (an HTTPS tunnel; TLS is not intercepted, bytes
   are copied both ways) or an absolute-form plain HTTP request ``GET http://host:port/path``;
2. it resolves the host once (``trio.socket.getaddrinfo``) and asks the policy about EVERY
   address; if any is refused the client gets ``403`` with a short reason and nothing is
   contacted (an ``egress_refused`` log line names host, port and reason, never a query string);
3. it connects to the vetted address itself, never to the name again, so a rebinding answer
   cannot slip in between the check and the connect;
4. a plain HTTP request is rewritten to origin form with ``Connection: close`` (the hop-by-hop
   ``Connection``/``Keep-Alive``/``Proxy-*`` headers are dropped), so one client connection
   carries exactly one request to one vetted host: a redirect is a new request, hence a new
   check.

Every redirect hop, every reconnect and every range request of either tool is therefore
checked against the addresses it actually reaches.

When it runs.  The app starts one guard per process, only when ``[extractor]
allow_private_addresses`` is false (otherwise there is nothing to enforce) and the operator did
not set ``[extractor] proxy``: with an operator proxy, all traffic goes there and *that proxy*
(or the network around it) is responsible for keeping user links out of private networks.

Bounds: ``MAX_CONNECTIONS`` concurrent client connections (more are answered ``503``), a
connect timeout, an idle timeout on the piped connection (no byte either way for
``IDLE_TIMEOUT``), and everything runs in the guard's nursery, so cancelling the guard ends
every connection.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import urllib.parse
from collections.abc import Callable
from typing import Final

import attrs
import structlog
import trio

from musicbot.config import ExtractorConfig
from musicbot.safety import IpAddress, is_blocked_address

log = structlog.get_logger(__name__)

MAX_HEAD: Final = 16 * 1024  # request line + headers; browsers stay far below
HEAD_TIMEOUT: Final = 15.0  # the client must send its whole head within this
CONNECT_TIMEOUT: Final = 10.0  # name resolution, and then the TCP connect to one address
IDLE_TIMEOUT: Final = 120.0  # a piped connection with no byte either way for this long ends
MAX_CONNECTIONS: Final = 64  # concurrent client connections; more get 503
CHUNK: Final = 64 * 1024
_HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "proxy-connection"})

Policy = Callable[[IpAddress, int], str | None]
"""Given an address and port about to be contacted: a refusal reason, or None to allow."""


def refuse_non_global(addr: IpAddress, port: int) -> str | None:
    """The project rule: only global unicast addresses (see :func:`is_blocked_address`)."""
    return "address not allowed" if is_blocked_address(addr) else None


def allow_all(addr: IpAddress, port: int) -> str | None:
    return None


def operator_endpoints(cfg: ExtractorConfig) -> frozenset[tuple[IpAddress, int]]:
    """(address, port) of the operator's own services that yt-dlp plugins call, named as
    ``base_url`` in ``[extractor] extractor_args`` with an IP address (e.g. a PO token
    provider: ``youtubepot-bgutilhttp = { base_url = ["http://127.0.0.1:4416"] }``)."""
    found: set[tuple[IpAddress, int]] = set()
    for args in cfg.extractor_args.values():
        for value in args.get("base_url", ()):
            parts = urllib.parse.urlsplit(value)
            try:
                addr = ipaddress.ip_address(parts.hostname or "")
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                continue
            found.add((addr, port))
    return frozenset(found)


def default_policy(cfg: ExtractorConfig) -> Policy:
    """Only global addresses, and the operator's endpoints (:func:`operator_endpoints`)."""
    if cfg.allow_private_addresses:
        return allow_all
    trusted = operator_endpoints(cfg)
    if not trusted:
        return refuse_non_global

    def policy(addr: IpAddress, port: int) -> str | None:
        return None if (addr, port) in trusted else refuse_non_global(addr, port)

    return policy


def needed(cfg: ExtractorConfig) -> bool:
    """Whether the app should run a guard: private addresses refused and no operator proxy."""
    return not cfg.allow_private_addresses and not cfg.proxy


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_STATUS_TEXT: Final = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


async def _read_head(stream: trio.SocketStream) -> tuple[bytes, bytes]:
    """The request head (without the blank line) and any bytes the client sent after it."""
    buf = bytearray()
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            if end > MAX_HEAD:
                break
            return bytes(buf[:end]), bytes(buf[end + 4 :])
        if len(buf) > MAX_HEAD:
            break
        data = await stream.receive_some(CHUNK)
        if not data:
            raise _BadRequest(400, "incomplete request head")
        buf += data
    raise _BadRequest(431, "request head too large")


@attrs.frozen
class _Request:
    connect: bool
    host: str
    port: int
    head: bytes  # what goes upstream (empty for CONNECT)


def _parse(head: bytes) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, "bad request line")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise _BadRequest(400, "bad header line")
        if "\r" in line or "\n" in line:  # a bare CR or LF could split the head upstream
            raise _BadRequest(400, "bad header line")
        headers.append((name, value.strip()))
    if "\r" in lines[0] or "\n" in lines[0]:
        raise _BadRequest(400, "bad request line")
    if method == "CONNECT":
        try:
            split = urllib.parse.urlsplit("//" + target)
            port = split.port
        except ValueError:  # "[::1" and other malformed authorities
            raise _BadRequest(400, "CONNECT needs host:port") from None
        if not split.hostname or port is None:
            raise _BadRequest(400, "CONNECT needs host:port")
        return _Request(connect=True, host=split.hostname, port=port, head=b"")
    try:
        split = urllib.parse.urlsplit(target)
        port = split.port or 80
    except ValueError:
        raise _BadRequest(400, "bad target") from None
    if split.scheme.lower() != "http" or not split.hostname:
        raise _BadRequest(400, "only absolute http:// requests and CONNECT are proxied")
    if split.username is not None or split.password is not None:
        raise _BadRequest(400, "credentials in url")
    path = split.path or "/"
    if split.query:
        path += "?" + split.query
    kept = [
        (k, v)
        for k, v in headers
        if k.lower() not in _HOP_BY_HOP and not k.lower().startswith("proxy-")
    ]
    if not any(k.lower() == "host" for k, _ in kept):
        kept.insert(0, ("Host", split.netloc.rpartition("@")[2]))
    kept.append(("Connection", "close"))
    text = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept)
    return _Request(
        connect=False, host=split.hostname, port=port, head=(text + "\r\n").encode("latin-1")
    )


async def _reply(stream: trio.SocketStream, status: int, reason: str) -> None:
    body = (reason + "\n").encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Error')}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(head.encode("ascii") + body)


async def _resolve(host: str, port: int) -> list[IpAddress]:
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IpAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if addr not in out:
            out.append(addr)
    return out


@attrs.define(eq=False)
class _Activity:
    """The pipe's scope: every chunk moves its deadline ``idle`` seconds on."""

    scope: trio.CancelScope
    idle: float

    def touch(self) -> None:
        self.scope.deadline = trio.current_time() + self.idle


async def _copy(
    src: trio.SocketStream, dst: trio.SocketStream, seen: _Activity, *, last_leg: bool
) -> None:
    """Copy until ``src`` ends; then half-close ``dst``, or (``last_leg``) end both legs.

    A broken or reset connection on either side ends both legs too."""
    try:
        while data := await src.receive_some(CHUNK):
            seen.touch()
            await dst.send_all(data)
        if not last_leg:
            await dst.send_eof()
            return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    seen.scope.cancel()


@attrs.define(eq=False)
class EgressGuard:
    """The proxy; :meth:`run` serves it on ``127.0.0.1`` and reports its URL when started."""

    policy: Policy = refuse_non_global
    max_connections: int = MAX_CONNECTIONS
    connect_timeout: float = CONNECT_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    head_timeout: float = HEAD_TIMEOUT
    host: str = "127.0.0.1"

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started`` gets ``http://127.0.0.1:PORT``."""
        limiter = trio.CapacityLimiter(self.max_connections)

        async def handler(client: trio.SocketStream) -> None:
            async with client:
                try:
                    limiter.acquire_nowait()
                except trio.WouldBlock:
                    await _reply(client, 503, "too many connections")
                    return
                try:
                    await self._serve_one(client)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass  # either side went away: nothing to tell anyone
                except Exception as exc:  # one broken connection must not stop the guard
                    log.warning("egress_connection_failed", exc_info=exc)
                finally:
                    limiter.release()

        async with trio.open_nursery() as nursery:
            listeners: list[trio.SocketListener] = await nursery.start(
                functools.partial(trio.serve_tcp, handler, 0, host=self.host)
            )
            port = listeners[0].socket.getsockname()[1]
            url = f"http://{self.host}:{port}"
            log.info("egress_guard_started", url=url)
            task_status.started(url)

    async def _serve_one(self, client: trio.SocketStream) -> None:
        try:
            with trio.fail_after(self.head_timeout):
                head, rest = await _read_head(client)
            request = _parse(head)
        except trio.TooSlowError:
            return
        except _BadRequest as bad:
            log.info("egress_bad_request", status=bad.status, reason=bad.reason)
            await _reply(client, bad.status, bad.reason)
            return
        upstream = await self._open(client, request)
        if upstream is None:
            return
        async with upstream:
            if request.connect:
                await client.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                await upstream.send_all(request.head)
            if rest:
                await upstream.send_all(rest)
            await self._pipe(client, upstream)

    async def _open(self, client: trio.SocketStream, request: _Request) -> trio.SocketStream | None:
        """Resolve, vet every address, connect to a vetted one; None after answering an error."""
        host, port = request.host, request.port
        try:
            with trio.fail_after(self.connect_timeout):
                addrs = await _resolve(host, port)
        except (OSError, UnicodeError, trio.TooSlowError):
            log.info("egress_unresolvable", host=host, port=port)
            await _reply(client, 502, f"cannot resolve {host}")
            return None
        for addr in addrs:
            reason = self.policy(addr, port)
            if reason is not None:
                log.warning(
                    "egress_refused", host=host, port=port, address=str(addr), reason=reason
                )
                await _reply(client, 403, f"refused: {reason}")
                return None
        for addr in addrs:
            try:
                with trio.fail_after(self.connect_timeout):
                    # An IP literal: open_tcp_stream resolves nothing, so this is the vetted one.
                    return await trio.open_tcp_stream(str(addr), port)
            except (OSError, trio.TooSlowError):
                continue
        log.info("egress_connect_failed", host=host, port=port)
        await _reply(client, 502, f"cannot connect to {host}")
        return None

    async def _pipe(self, client: trio.SocketStream, upstream: trio.SocketStream) -> None:
        """Bytes both ways until the upstream ends, or nothing moves for ``idle_timeout``."""
        with trio.CancelScope() as scope:
            seen = _Activity(scope, self.idle_timeout)
            seen.touch()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(functools.partial(_copy, client, upstream, seen, last_leg=False))
                nursery.start_soon(functools.partial(_copy, upstream, client, seen, last_leg=True))
        if scope.cancelled_caught and trio.current_time() >= scope.deadline:
            log.info("egress_idle_closed", idle=self.idle_timeout)
