"""The HEALTHCHECK probe against a real ops server, and its config handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from musicbot.ops import probe
from musicbot.ops.health import HealthState, ShardStatus
from musicbot.ops.metrics import Metrics
from musicbot.ops.server import serve


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:9464", "http://127.0.0.1:9464/healthz"),
        ("0.0.0.0:9464", "http://127.0.0.1:9464/healthz"),
        ("[::]:80", "http://[::1]:80/healthz"),
        ("localhost:1", "http://localhost:1/healthz"),
    ],
)
def test_healthz_url(listen: str, url: str) -> None:
    assert probe.healthz_url(listen) == url


async def test_probe_follows_the_config_and_reports_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MUSICBOT_OPS_LISTEN", raising=False)
    health = HealthState(expected_shards=1)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            url: str = await nursery.start(
                lambda task_status: serve(
                    "127.0.0.1:0",
                    metrics=Metrics(process_collector=False),
                    health=health,
                    task_status=task_status,
                )
            )
            cfg = tmp_path / "config.toml"
            cfg.write_text(f'[ops]\nlisten = "{url.removeprefix("http://")}"\n')
            argv = ["--config", str(cfg)]
            assert await trio.to_thread.run_sync(probe.main, argv) == probe.EXIT_OK

            health.shard_status(0, ShardStatus.DISCONNECTED, trio.current_time())
            code, line = await trio.to_thread.run_sync(probe.check, url + "/healthz")
            assert code == probe.EXIT_FAIL
            assert "HTTP 503" in line and "shard 0 disconnected" in line
            assert await trio.to_thread.run_sync(probe.main, argv) == probe.EXIT_FAIL
            nursery.cancel_scope.cancel()
        code, line = await trio.to_thread.run_sync(probe.check, url + "/healthz")
        assert code == probe.EXIT_FAIL and line.startswith("cannot reach")


def test_probe_with_endpoint_off_or_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MUSICBOT_OPS_LISTEN", raising=False)
    off = tmp_path / "off.toml"
    off.write_text('[ops]\nlisten = ""\n')
    assert probe.main(["--config", str(off)]) == probe.EXIT_OK
    assert "nothing to check" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[ops]\nlisten = "nonsense"\n')
    assert probe.main(["--config", str(bad)]) == probe.EXIT_CONFIG
