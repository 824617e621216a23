"""The ops endpoint of a running bot: /metrics moves when a track plays, /healthz follows the
gateway's heartbeat ACKs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from actors.guild import commands
from musicbot.app import App, serve
from musicbot.emulator.server import open_emulator
from tests.e2e.harness import assert_discord_shapes, stack, validating

OPS = {"ops": {"listen": "127.0.0.1:0"}}


def samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text exposition, summed over labels, by sample name."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def labelled(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


async def scrape(client: httpx.AsyncClient, app: App) -> str:
    assert app.ops_url is not None
    r = await client.get(app.ops_url + "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


async def poll(check: Callable[[], Awaitable[bool]], *, every: float = 0.1) -> None:
    """Wait (under the caller's deadline) until ``await check()`` is true."""
    while not await check():
        await trio.sleep(every)


async def test_metrics_parse_and_move_when_a_track_plays(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=OPS) as s, httpx.AsyncClient() as client:

            async def sampled() -> bool:  # membership gauges are sampled once a second
                return samples(await scrape(client, s.app))["musicbot_guilds"] == 1

            await poll(sampled)
            before = samples(await scrape(client, s.app))
            assert before["musicbot_tracks_started_total"] == 0
            assert before["musicbot_audio_frames_sent_total"] == 0
            assert before["musicbot_guild_actors"] == 0
            assert before["musicbot_info"] == 1
            assert before["process_resident_memory_bytes"] > 0
            assert before["process_cpu_seconds_total"] > 0
            assert before["musicbot_uptime_seconds"] > 0

            record = s.play(s.media.media_url("a440"))
            assert "a440" in await s.answer(record)
            await s.frames(60)

            async def moved() -> bool:
                now = samples(await scrape(client, s.app))
                return (
                    now["musicbot_tracks_started_total"] == 1
                    and now["musicbot_audio_frames_sent_total"] >= 50
                    and now["musicbot_players_playing"] == 1
                    and now["musicbot_cache_misses_total"] >= 1  # sampled after the audio
                )

            await poll(moved)
            text = await scrape(client, s.app)
            now = samples(text)
            assert now["musicbot_guild_actors"] == 1
            assert now["musicbot_voice_connections"] == 1
            assert now["musicbot_extraction_seconds_count"] == 1
            assert now["musicbot_gateway_identifies_total"] == 1
            assert now["musicbot_rest_requests_total"] > before["musicbot_rest_requests_total"]
            routes = labelled(text, "musicbot_rest_requests_total")
            callback = (
                ("route", "POST /interactions/{interaction_id}/{interaction_token}/callback"),
                ("status", "204"),
            )
            assert routes[callback] == 1  # route templates, never a token or an id

            # The tone is 6 s long: it finishes, the counter moves and nothing plays any more.
            async def finished() -> bool:
                now = samples(await scrape(client, s.app))
                return (
                    now["musicbot_tracks_finished_total"] == 1
                    and now["musicbot_players_playing"] == 0
                )

            await poll(finished, every=0.25)
            assert samples(await scrape(client, s.app)).get("musicbot_tracks_failed_total", 0) == 0


async def test_healthz_unhealthy_without_heartbeat_acks_and_healthy_after_resume(
    tmp_path: Path,
) -> None:
    with trio.fail_after(40):
        async with open_emulator(heartbeat_interval=1.0, rest_options=validating()) as emu:
            emu.world.add_guild("ops")
            cfg = emu.bot_config(
                OPS | {"storage": {"data_dir": str(tmp_path)}, "log": {"level": "warning"}}
            )
            async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
                app: App = await nursery.start(serve, cfg)
                assert app.ops_url is not None
                url = app.ops_url

                async def health_is(code: int, status: str) -> bool:
                    r = await client.get(url + "/healthz")
                    return r.status_code == code and r.json()["status"] == status

                await poll(lambda: health_is(200, "healthy"))
                age = (await client.get(url + "/healthz")).json()["rest_last_success_age"]
                assert 0 <= age < 30  # the command sync answered just now
                ready = await client.get(url + "/readyz")
                assert ready.status_code == 200 and ready.json() == {"ready": True}

                emu.gateway.pause_acks(0)
                await poll(lambda: health_is(503, "unhealthy"))
                body = (await client.get(url + "/healthz")).json()
                assert "shard_no_ack" in {r["code"] for r in body["reasons"]}
                metrics = samples(await scrape(client, app))
                assert metrics["musicbot_gateway_reconnects_total"] >= 1

                emu.gateway.resume_acks(0)
                await poll(lambda: health_is(200, "healthy"))
                assert emu.gateway.resumes  # the same session, resumed
                assert not emu.gateway.identifies[1:]  # never had to identify again
                labels = labelled(await scrape(client, app), "musicbot_gateway_resumes_total")
                assert sum(labels.values()) >= 1
                assert all(dict(k)["cause"] == "zombie" for k in labels)
                app.request_stop()
            assert_discord_shapes(emu)


async def test_a_guild_actor_crash_counts_a_supervisor_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(g: Any, inv: Any) -> None:
        raise RuntimeError("a bug in a command handler")

    monkeypatch.setitem(commands.HANDLERS, "history", boom)
    with trio.fail_after(30):
        async with stack(tmp_path, config=OPS) as s, httpx.AsyncClient() as client:
            s.command("history")

            async def restarted() -> bool:
                text = await scrape(client, s.app)
                return labelled(text, "musicbot_supervisor_restarts_total") == {
                    (("supervisor", "guilds"),): 1.0
                }

            await poll(restarted)
            assert s.app.guilds.lookup(s.guild.id) is not None  # running again
