"""yt-dlp's version and age reach /metrics, /health (and its embed) and check-config."""

from __future__ import annotations

import datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from actors.guild.ops_commands import health_embed
from musicbot.__main__ import main as cli
from musicbot.extract.runtime import freshness, log_freshness
from musicbot.ops.health import (
    HealthInputs,
    HealthState,
    ShardHealth,
    ShardStatus,
    Status,
    evaluate,
)
from musicbot.ops.metrics import Metrics


def samples(m: Metrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(m.registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_name_the_version_and_its_age() -> None:
    m = Metrics()
    released = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=75)
    m.extractor("2026.01.02", released)
    found = samples(m)
    assert found["musicbot_extractor_info"] == [({"version": "2026.01.02"}, 1.0)]
    assert found["musicbot_extractor_age_days"] == [({}, 75.0)]
    m.extractor("2026.02.03", None)  # replaced, not added; unknown age is NaN
    found = samples(m)
    assert found["musicbot_extractor_info"] == [({"version": "2026.02.03"}, 1.0)]
    assert found["musicbot_extractor_age_days"][0][1] != found["musicbot_extractor_age_days"][0][1]


def test_health_degrades_when_yt_dlp_is_old_and_shows_it() -> None:
    up = {
        "shards": (ShardHealth(shard_id=0, status=ShardStatus.CONNECTED, since=0.0),),
        "expected_shards": 1,
    }
    old = evaluate(
        HealthInputs(extractor_version="2026.01.02", extractor_age_days=61, **up), now=0.0
    )
    assert old.status is Status.DEGRADED
    assert [r.code for r in old.reasons] == ["extractor_stale"]
    assert "make update-extractor" in old.reasons[0].detail
    assert old.to_json()["extractor"] == {"version": "2026.01.02", "age_days": 61}
    fine = evaluate(
        HealthInputs(extractor_version="2026.11.30", extractor_age_days=2, **up), now=0.0
    )
    assert fine.status is Status.HEALTHY and fine.extractor_summary() == "2026.11.30 (2 d)"
    embed = health_embed(old, "vi", shards=None)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["yt-dlp"] == "2026.01.02 (61 d)"
    assert "yt-dlp đã cũ" in "\n".join(fields.values())
    state = HealthState()
    today = datetime.datetime.now(datetime.UTC).date()
    state.extractor("2026.01.02", today - datetime.timedelta(days=3))
    assert state.health_inputs().extractor_age_days == 3


def test_the_start_line_warns_when_old() -> None:
    with capture_logs() as logs:
        log_freshness(freshness(datetime.date(2027, 6, 1), "2026.10.26"))
        log_freshness(freshness(datetime.date(2026, 11, 1), "2026.10.26"))
    assert [(e["event"], e["log_level"], e["age_days"]) for e in logs] == [
        ("extractor_outdated", "warning", 218),
        ("extractor_version", "info", 6),
    ]
    assert "make update-extractor" in logs[0]["fix"]


def test_check_config_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check-config", "/nonexistent-so-defaults.toml"]) == 2  # a missing file is refused
    assert cli(["check-config"]) == 0
    err = capsys.readouterr().err
    assert f"yt-dlp {freshness().version}, " in err and "days old" in err


def test_update_extractor_says_what_changed() -> None:
    from musicbot.extract.update import PACKAGES, changes, installed

    now = installed()
    assert set(now) == set(PACKAGES) and all(now.values())  # make setup installed all three
    lines = changes(
        {"yt-dlp": "2026.10.26", "yt-dlp-ejs": "0.8.0", "deno": None},
        {"yt-dlp": "2026.11.30", "yt-dlp-ejs": "0.8.0", "deno": "2.9.9"},
    )
    assert lines == [
        "yt-dlp 2026.10.26 -> 2026.11.30",
        "yt-dlp-ejs 0.8.0 (unchanged)",
        "deno not installed -> 2.9.9",
    ]
