"""The command line, run as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICBOT_")}
    full_env.pop("DISCORD_TOKEN", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "musicbot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_check_config_prints_effective_config_with_masked_token() -> None:
    token = "MTEyMzQ1Njc4OTAxMjM0NTY3OA.Gabcde.secretsecretsecretsecret"
    result = _run("check-config", "config.toml", env={"DISCORD_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert "[discord]" in result.stdout and "[ops]" in result.stdout
    assert token not in result.stdout + result.stderr
    assert "masked" in result.stdout


def test_check_config_reports_three_mistakes_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[audio]\nbitrate = "high"\n[voice]\nalone_timout = 5\n[log]\nformat = "xml"\n',
        encoding="utf-8",
    )
    result = _run("check-config", str(bad))
    assert result.returncode == 2
    assert "audio.bitrate: must be an integer (got 'high')" in result.stderr
    assert "voice.alone_timout: unknown key; did you mean 'alone_timeout'?" in result.stderr
    assert 'log.format: must be one of "json", "console" (got \'xml\')' in result.stderr


def test_run_refuses_to_start_on_the_same_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[voice]\nalone_timout = 5\n", encoding="utf-8")
    result = _run("run", "--config", str(bad))
    assert result.returncode == 2
    assert "voice.alone_timout: unknown key" in result.stderr


def test_usage_errors_exit_2_and_help_works() -> None:
    assert _run("frobnicate").returncode == 2
    for sub in ("run", "check-config", "emulator"):
        result = _run(sub, "--help")
        assert result.returncode == 0
        assert "usage:" in result.stdout
