"""`python -m musicbot run` as an operator runs it, against the emulator: fatal problems stop
the process with exit code 1 and a message that says what to do, never a retry loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio

from musicbot.emulator.server import open_emulator

TOKEN_IN_ENV = "not-the-emulator-token-0123456789"


async def _run_bot(config: Path, token: str) -> trio.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICBOT_")}
    env["DISCORD_TOKEN"] = token
    return await trio.run_process(
        [sys.executable, "-m", "musicbot", "run", "--config", str(config)],
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


async def test_a_rejected_token_stops_with_the_fix(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with open_emulator() as emu:
            config = tmp_path / "config.toml"
            config.write_text(
                f'[discord]\napi_base = "{emu.api_base}"\n[storage]\ndata_dir = "{tmp_path}"\n',
                encoding="utf-8",
            )
            result = await _run_bot(config, TOKEN_IN_ENV)
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert "the token is invalid" in stderr and "Reset Token" in stderr
    assert TOKEN_IN_ENV not in stderr + result.stdout.decode()


async def test_gateway_close_4004_stops_with_the_fix(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with open_emulator() as emu:
            valid = emu.world.token
            # REST still knows the token; the gateway has seen it reset (close 4004).
            emu.world.token = "rotated-token-after-a-reset-0123"
            config = tmp_path / "config.toml"
            config.write_text(
                f'[discord]\napi_base = "{emu.api_base}"\n[storage]\ndata_dir = "{tmp_path}"\n',
                encoding="utf-8",
            )
            result = await _run_bot(config, valid)
            identifies = sum(1 for _conn, op, _d in emu.gateway.received if op == 2)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr[-2000:]
    assert "4004" in stderr and "Reset" in stderr
    assert identifies == 1  # no retry loop
    assert valid not in stderr + result.stdout.decode()
