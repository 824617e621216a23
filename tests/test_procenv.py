"""No child process inherits the bot's token (issue 13, item 7).

Read from ``/proc/<pid>/environ`` of real children: the bundled ffmpeg as the player starts it,
ffmpeg as the duration probe starts it, and a process started by yt-dlp's own ``Popen``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from musicbot.audio.source import FfmpegOpener, SourceRequest
from musicbot.extract.probe import probe_stream
from musicbot.models.track import Track
from musicbot.procenv import ALLOWED, FFMPEG_NICE, child_env, forget_secrets, lower_priority
from tests.audio.helpers import FFMPEG, http_server, make_media

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.procenv-secret.xyz"


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def children_of(pid: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            yield int(entry.name)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret-value")
    monkeypatch.setenv("LANG", "C.UTF-8")


def _assert_minimal(env: dict[str, str]) -> None:
    assert "DISCORD_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert TOKEN not in "".join(env.values())
    assert set(env) <= set(ALLOWED)
    assert env.get("LANG") == "C.UTF-8" and env["PATH"]


@pytest.mark.usefixtures("secret_env")
async def test_the_player_ffmpeg_gets_a_minimal_environment(tmp_path: Path) -> None:
    ogg = make_media(tmp_path / "tone.ogg", codec="opus-ogg", seconds=3.0)
    track = Track(title="t", webpage_url="https://example.com", stream_url=str(ogg))
    opener = FfmpegOpener(ffmpeg=FFMPEG, trusted_local=True)
    with trio.fail_after(30):
        async with opener(SourceRequest(track=track, offset=0.0)) as source:
            pid = source.process.pid
            env = environ_of(pid)  # ffmpeg is running: it has 3 s of audio to give
            assert await source.receive_frames()
    _assert_minimal(env)


@pytest.mark.usefixtures("secret_env")
async def test_the_probe_ffmpeg_gets_a_minimal_environment_runs_niced_and_is_reaped(
    tmp_path: Path,
) -> None:
    seen: list[dict[str, str]] = []
    envs: list[dict[str, str]] = []
    nices: list[int] = []
    pids: list[int] = []
    with http_server(tmp_path, seen=seen) as base, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: probe_stream(f"{base}/stall.ogg", {}, ffmpeg=FFMPEG, timeout=20)
            )
            while not envs:  # the probe's ffmpeg hangs on the stalled body until cancelled
                for child in children_of(os.getpid()):
                    if Path(f"/proc/{child}/exe").resolve().name.startswith("ffmpeg"):
                        envs.append(environ_of(child))
                        nices.append(os.getpriority(os.PRIO_PROCESS, child))
                        pids.append(child)
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
    _assert_minimal(envs[0])
    # Below the bot, like every ffmpeg: a probe never competes with the voice clock.
    assert nices[0] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + FFMPEG_NICE)
    assert pids[0] not in set(children_of(os.getpid()))  # cancelled: killed and reaped


def test_child_env_keeps_only_the_allow_list() -> None:
    env = child_env({"PATH": "/bin", "DISCORD_TOKEN": TOKEN, "HOME": "/root", "X": "y"})
    assert env == {"PATH": "/bin", "HOME": "/root"}
    assert child_env({})["PATH"]  # a PATH always, so ffmpeg can be found by name


async def test_forget_secrets_keeps_the_token_from_library_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """yt-dlp starts ffmpeg / a JS runtime itself, copying os.environ: the token must be gone."""
    from yt_dlp.utils import Popen

    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert forget_secrets() == ["DISCORD_TOKEN"]
    assert "DISCORD_TOKEN" not in os.environ
    with Popen(["sleep", "5"]) as child:
        try:
            env = environ_of(child.pid)
        finally:
            child.kill()
    assert "DISCORD_TOKEN" not in env and TOKEN not in "".join(env.values())


def test_lower_priority_is_relative_capped_and_ignores_a_child_that_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        lower_priority(child.pid, 10)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, ours + 10)
        lower_priority(child.pid, 50)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == 19
    finally:
        child.kill()
        child.wait()
    lower_priority(child.pid, 10)  # reaped: nothing to do, nothing raised
