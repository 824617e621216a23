"""``python -m musicbot doctor``: every check passes against the emulator; each fails once."""

from __future__ import annotations

import datetime
import socket
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from musicbot import doctor
from musicbot.__main__ import main as cli
from musicbot.config import Config
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.extract.runtime import freshness

TIMEOUT = 120


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def statuses(checks: list[doctor.Check]) -> dict[str, doctor.Status]:
    return {c.name: c.status for c in checks}


def config_for(emu: Emulator, tmp_path: Path, **sections: dict[str, Any]) -> Config:
    sections.setdefault("storage", {"data_dir": str(tmp_path / "data")})
    return emu.bot_config(sections)


@pytest.fixture
async def emu() -> Any:
    async with open_emulator(heartbeat_interval=1.0) as emulator:
        yield emulator


async def test_every_check_passes_against_the_emulator(emu: Emulator, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        checks = await doctor.run_checks(config_for(emu, tmp_path))
    lines: list[str] = []
    assert doctor.report(checks, lines.append) == 0
    assert set(statuses(checks).values()) == {doctor.Status.OK}, lines
    assert [c.name for c in checks] == [
        "config", "token", "gateway", "ffmpeg", "js runtime", "solver scripts", "yt-dlp age",
        "data dir", "DAVE", "voice packets", "egress guard",
    ]  # fmt: skip
    assert len(lines) == len(checks) + 1 and lines[-1] == "all checks passed"
    assert not any(emu.world.token in line for line in lines)  # no secret printed


def hide_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # the next import of it raises ImportError


async def test_each_check_fails_once(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    released = freshness().released
    assert released is not None
    cases: list[tuple[str, dict[str, Any], Any]] = [
        ("token", {"discord": {"token": "not-the-token"}}, None),
        ("gateway", {"discord": {"gateway_url": f"ws://127.0.0.1:{closed_port()}"}}, None),
        ("ffmpeg", {"audio": {"ffmpeg": str(tmp_path / "no-ffmpeg")}}, None),
        ("js runtime", {"extractor": {"js_runtime": str(tmp_path / "deno")}}, None),
        ("solver scripts", {}, "yt_dlp_ejs.yt.solver"),
        ("yt-dlp age", {}, released + datetime.timedelta(days=61)),
        ("data dir", {"storage": {"data_dir": str(a_file / "data")}}, None),
        ("DAVE", {}, "davey"),
        ("egress guard", {"extractor": {"allow_private_addresses": True}}, None),
    ]
    seen: list[str] = []
    for name, sections, extra in cases:
        today = extra if isinstance(extra, datetime.date) else None
        with monkeypatch.context() as m:
            if isinstance(extra, str):
                hide_module(m, extra)
            with trio.fail_after(TIMEOUT):
                checks = await doctor.run_checks(config_for(emu, tmp_path, **sections), today=today)
        failed = [c for c in checks if c.status is doctor.Status.FAIL]
        assert [c.name for c in failed] == [name], [c.line() for c in checks]
        lines: list[str] = []
        assert doctor.report(checks, lines.append) == 1
        assert lines[-1].startswith(f"1 failed: {name}")  # (the emulator may rate limit)
        assert not any("not-the-token" in line or emu.world.token in line for line in lines)
        seen.append(failed[0].line())
    assert "rejected the token" in seen[0]
    assert "make update-extractor" in seen[5]


def test_the_voice_packet_path_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from musicbot.voice import rtp

    check = doctor.check_voice_path()
    assert check.status is doctor.Status.OK and check.detail.startswith("C accelerator (OpenSSL")
    monkeypatch.setattr(rtp, "NATIVE", False)  # as where it could not be built
    check = doctor.check_voice_path()
    assert check.status is doctor.Status.OK  # slower, still correct: reported, not failed
    assert "Python fallback" in check.detail and "libssl-dev" in check.detail


def test_an_invalid_config_fails_the_first_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[audio]\nbitrate = 9999\n")
    assert cli(["doctor", "--config", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  config") and "audio.bitrate" in out[0]
    assert out[-1] == "1 failed: config"


async def test_offline_it_says_what_it_could_not_check(tmp_path: Path) -> None:
    cfg = Config()
    from musicbot import config as config_mod

    cfg = config_mod.build(
        {
            "discord": {"api_base": f"http://127.0.0.1:{closed_port()}/api/v10", "token": "x.y.z"},
            "storage": {"data_dir": str(tmp_path)},
        },
        environ={},
    )
    with trio.fail_after(TIMEOUT):
        checks = await doctor.run_checks(cfg)
    by_name = {c.name: c for c in checks}
    assert by_name["token"].status is doctor.Status.SKIP
    assert "could not reach Discord's API" in by_name["token"].detail
    assert by_name["gateway"].status is doctor.Status.SKIP
    lines: list[str] = []
    assert doctor.report(checks, lines.append) == 0
    assert lines[-1] == "all checks passed; could not check: token, gateway"
    assert not any("x.y.z" in line for line in lines)


async def test_the_ffmpeg_it_runs_never_sees_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even run on its own (before the CLI forgets the secrets), the doctor's child process
    gets the allow-listed environment, not the bot's."""
    dump = tmp_path / "env.txt"
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\nenv > {dump}\necho 'ffmpeg version 9.9 Copyright nobody'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DISCORD_TOKEN", "Bot.secret-token-value")
    monkeypatch.setenv("MUSICBOT_SPOTIFY_CLIENT_SECRET", "spotify-secret-value")
    cfg = Config(audio=attrs.evolve(Config().audio, ffmpeg=str(fake)))
    with trio.fail_after(TIMEOUT):
        check = await doctor.check_ffmpeg(cfg)
    assert check.status is doctor.Status.OK and "ffmpeg version 9.9" in check.detail
    seen = dump.read_text()
    assert "PATH=" in seen
    assert "secret-token-value" not in seen and "spotify-secret-value" not in seen
