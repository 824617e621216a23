"""The operator HTTP endpoint: ``/metrics``, ``/healthz``, ``/readyz``.

Theory: a tiny ASGI app served by hypercorn on Trio inside the bot's own nursery (no thread, no
second event loop).  It only *reads*: the Prometheus registry of :class:`Metrics` and the
inputs of a :class:`HealthSource`, evaluated with ``trio.current_time()`` as "now" (the writers
of :class:`~musicbot.ops.health.HealthState` must use the same clock).

* ``GET /metrics`` → Prometheus text exposition (format 0.0.4).
* ``GET /healthz`` → 200 when healthy or degraded, 503 when unhealthy; JSON with the reasons.
* ``GET /readyz`` → 200 once every expected shard is connected, else 503; JSON.
* anything else → 404 (405 for a known path with a method other than GET/HEAD).

It stops when its cancel scope is cancelled; there is no separate shutdown call.  Bind it to
loopback or a private interface: the figures are not secret, but nothing here is authenticated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from musicbot.ops.errors import OpsListenError
from musicbot.ops.health import HealthSource, Status, Thresholds, evaluate
from musicbot.ops.metrics import Metrics

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HTTP_OK: Final = 200
HTTP_NOT_FOUND: Final = 404
HTTP_METHOD_NOT_ALLOWED: Final = 405
HTTP_UNAVAILABLE: Final = 503
JSON_TYPE: Final = "application/json"
PATHS: Final = ("/metrics", "/healthz", "/readyz")


class OpsApp:
    """The ASGI application; usable on its own (e.g. with an ASGI test client)."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        health: HealthSource,
        thresholds: Thresholds | None = None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._thresholds = thresholds or Thresholds()
        self._clock = clock

    def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request; pure apart from reading state."""
        if path not in PATHS:
            return HTTP_NOT_FOUND, JSON_TYPE, b'{"error": "not found"}'
        if method not in ("GET", "HEAD"):
            return HTTP_METHOD_NOT_ALLOWED, JSON_TYPE, b'{"error": "method not allowed"}'
        if path == "/metrics":
            return HTTP_OK, CONTENT_TYPE_PLAIN_0_0_4, generate_latest(self._metrics.registry)
        report = evaluate(self._health.health_inputs(), self._clock(), self._thresholds)
        if path == "/healthz":
            code = HTTP_UNAVAILABLE if report.status is Status.UNHEALTHY else HTTP_OK
            return code, JSON_TYPE, json.dumps(report.to_json()).encode()
        code = HTTP_OK if report.ready else HTTP_UNAVAILABLE
        return code, JSON_TYPE, json.dumps({"ready": report.ready}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        status, ctype, body = self.respond(method, scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode("latin-1")),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


async def serve(
    listen: str,
    *,
    metrics: Metrics,
    health: HealthSource,
    thresholds: Thresholds | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ops endpoint on ``listen`` ("host:port"; port 0 picks a free port).

    ``task_status.started(url)`` reports the bound base URL, e.g. ``http://127.0.0.1:9464``.
    Runs until cancelled.  Raises :class:`OpsListenError` when the address cannot be bound.
    """
    config = HypercornConfig()
    config.bind = [listen]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 0.0
    app = OpsApp(metrics=metrics, health=health, thresholds=thresholds)
    started = False
    try:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(hypercorn_serve, app, config)
            started = True
            url = binds[0]
            log.info("ops_server_started", url=url)
            task_status.started(url)
    except BaseExceptionGroup as group:
        # Binding happens inside hypercorn's nurseries, so a busy port arrives as nested groups.
        match, rest = group.split(OSError)
        if started or match is None or rest is not None:
            raise
        first = _first_leaf(match)
        raise OpsListenError(listen=listen, reason=first.strerror or str(first)) from None


def _first_leaf(group: BaseExceptionGroup[OSError]) -> OSError:
    exc: OSError | BaseExceptionGroup[OSError] = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
