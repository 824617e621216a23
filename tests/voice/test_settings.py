"""Voice settings from the operator's config: ``[voice] move_timeout`` and ``[discord] ca_file``
(a CA to trust for the voice gateway's TLS instead of the system's; never "verify off")."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio

from musicbot import config
from musicbot.emulator.voice_tls import LocalCA
from musicbot.errors import ConfigError
from musicbot.voice import (
    CloseAction,
    Connected,
    Disconnected,
    Reconnecting,
    StopReason,
    VoiceSettings,
)
from tests.voice.helpers import CHANNEL, voice_env


def test_defaults_use_the_system_trust_store() -> None:
    settings = VoiceSettings.from_config(config.build({}, environ={}))
    assert settings.move_timeout == 10.0
    assert settings.ssl_context is None  # trio-websocket's default: system CAs, verified


def test_move_timeout_and_ca_file_are_wired(tmp_path: Path) -> None:
    ca = LocalCA().write_ca(tmp_path / "ca.pem")
    cfg = config.build(
        {"voice": {"move_timeout": 2.5}, "discord": {"ca_file": str(ca)}}, environ={}
    )
    settings = VoiceSettings.from_config(cfg)
    assert settings.move_timeout == 2.5
    ctx = settings.ssl_context
    assert ctx is not None
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] != []  # that CA, and only it
    assert len(ctx.get_ca_certs()) == 1


@pytest.mark.parametrize("content", [None, "not a certificate"])
def test_a_missing_or_bad_ca_file_is_refused_at_start(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        config.build({"discord": {"ca_file": str(path)}, "voice": {"move_timeout": 0}}, environ={})
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith("discord.ca_file: must name a readable PEM file") for line in lines)
    assert any(line.startswith("voice.move_timeout: must be greater than 0") for line in lines)


async def test_a_voice_server_the_bot_cannot_verify_is_never_spoken_to() -> None:
    """Without the run's CA (the system store only) the TLS handshake fails: the bot never
    identifies, backs off, gives up cleanly, and nothing crashes."""
    settings = VoiceSettings(
        join_timeout=5.0, handshake_timeout=0.5, max_attempts=1, backoff_base=0.05
    )
    with trio.fail_after(30):
        async with voice_env(settings=settings, trust_ca=False) as env:
            env.conn.join(CHANNEL)
            backoff = await env.next_event(Reconnecting)
            assert backoff.action is CloseAction.BACKOFF_REJOIN
            gone = await env.next_event(Disconnected)
            assert gone.reason is StopReason.FAILED
    assert env.server.identifies == []  # not one message reached the unverified server
    assert not any(isinstance(e, Connected) for e in env.seen)
