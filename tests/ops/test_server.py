"""The ops HTTP endpoint on 127.0.0.1:0, asked by a real HTTP client."""

from __future__ import annotations

import socket

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from musicbot.ops.errors import OpsListenError
from musicbot.ops.health import HealthState, ShardStatus
from musicbot.ops.metrics import Metrics
from musicbot.ops.server import serve


async def test_metrics_healthz_readyz_and_404() -> None:
    metrics = Metrics(version="test")
    health = HealthState(expected_shards=1)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            url: str = await nursery.start(
                lambda task_status: serve(
                    "127.0.0.1:0", metrics=metrics, health=health, task_status=task_status
                )
            )
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
            async with httpx.AsyncClient(base_url=url) as client:
                # Not ready: the shard has not begun.  Degraded, never healthy, meanwhile.
                r = await client.get("/readyz")
                assert r.status_code == 503 and r.json() == {"ready": False}
                r = await client.get("/healthz")
                assert r.status_code == 200 and r.json()["status"] == "degraded"
                assert [x["code"] for x in r.json()["reasons"]] == ["starting"]

                now = trio.current_time()
                health.shard_status(0, ShardStatus.CONNECTED, now)
                health.heartbeat_interval(0, 41.25, now)
                health.heartbeat_ack(0, now, 0.6)
                assert (await client.get("/readyz")).status_code == 200
                r = await client.get("/healthz")
                assert r.status_code == 200
                body = r.json()
                assert body["status"] == "degraded"
                assert [x["code"] for x in body["reasons"]] == ["shard_latency"]

                health.shard_status(0, ShardStatus.DISCONNECTED, now)
                r = await client.get("/healthz")
                assert r.status_code == 503 and r.json()["status"] == "unhealthy"
                assert (await client.get("/readyz")).status_code == 503

                metrics.track_started(1)
                metrics.rest_request("GET /gateway/bot", 200)
                r = await client.get("/metrics")
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
                found = {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for f in text_string_to_metric_families(r.text)
                    for s in f.samples
                }
                assert found[("musicbot_tracks_started_total", ())] == 1
                labels = (("route", "GET /gateway/bot"), ("status", "200"))
                key = ("musicbot_rest_requests_total", labels)
                assert found[key] == 1
                metrics.track_started(1)
                r = await client.get("/metrics")
                assert "musicbot_tracks_started_total 2.0" in r.text

                assert (await client.get("/nope")).status_code == 404
                assert (await client.post("/metrics")).status_code == 405
                head = await client.head("/healthz")
                assert head.status_code == 503 and head.content == b""
            nursery.cancel_scope.cancel()


async def test_cancellation_closes_the_port() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            url: str = await nursery.start(
                lambda task_status: serve(
                    "127.0.0.1:0",
                    metrics=Metrics(process_collector=False),
                    health=HealthState(),
                    task_status=task_status,
                )
            )
            async with httpx.AsyncClient(base_url=url) as client:
                assert (await client.get("/healthz")).status_code == 200
            nursery.cancel_scope.cancel()
        async with httpx.AsyncClient(base_url=url) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("/healthz")


async def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                with pytest.raises(OpsListenError) as info:
                    await nursery.start(
                        lambda task_status: serve(
                            f"127.0.0.1:{port}",
                            metrics=Metrics(process_collector=False),
                            health=HealthState(),
                            task_status=task_status,
                        )
                    )
    assert info.value.listen == f"127.0.0.1:{port}"
    assert "in use" in str(info.value) and "[ops] listen" in str(info.value)
