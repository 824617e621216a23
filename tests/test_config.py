"""Configuration: documented defaults, every mistake reported at once, env overrides, token."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import attrs
import pytest

from musicbot import config
from musicbot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_toml_lists_every_key_with_its_default() -> None:
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    assert set(data) == set(config.SECTIONS)
    for section, cls in config.SECTIONS.items():
        names = {f.name for f in attrs.fields(cls)}
        assert set(data[section]) == names, section
    assert config.build(data, environ={}) == config.Config()


def test_readme_documents_every_key() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section, cls in config.SECTIONS.items():
        for f in attrs.fields(cls):
            assert f"`{section}.{f.name}`" in readme, f"{section}.{f.name} missing from README"


def test_three_mistakes_are_all_reported_with_suggestions() -> None:
    data = {
        "discord": {"shard_cont": 2},
        "audio": {"bitrate": "loud"},
        "voice": {"idle_timeout": -5},
    }
    with pytest.raises(ConfigError) as info:
        config.build(data, environ={})
    lines = [str(p) for p in info.value.problems]
    assert "discord.shard_cont: unknown key; did you mean 'shard_count'?" in lines
    assert "audio.bitrate: must be an integer (got 'loud')" in lines
    assert "voice.idle_timeout: must be greater than 0 (got -5)" in lines
    assert len(lines) == 3


def test_unknown_section_is_suggested() -> None:
    with pytest.raises(ConfigError) as info:
        config.build({"extracter": {}}, environ={})
    assert "did you mean 'extractor'" in str(info.value)


def test_environment_overrides_any_key_and_is_validated() -> None:
    env = {
        "MUSICBOT_LOG_LEVEL": "debug",
        "MUSICBOT_VOICE_STAY_24_7": "true",
        "MUSICBOT_DISCORD_COMMAND_GUILD_IDS": "[1, 2]",
        "MUSICBOT_STORAGE_DATA_DIR": "/var/lib/musicbot",
    }
    cfg = config.build({"log": {"level": "warning"}}, environ=env)
    assert cfg.log.level == "debug"
    assert cfg.voice.stay_24_7 is True
    assert cfg.discord.command_guild_ids == (1, 2)
    assert cfg.storage.data_dir == "/var/lib/musicbot"
    with pytest.raises(ConfigError) as info:
        config.build({}, environ={"MUSICBOT_LOG_LEVEL": "loud"})
    assert "log.level: must be one of" in str(info.value)


def test_shard_ids_need_a_count_and_must_fit() -> None:
    with pytest.raises(ConfigError, match="shard_ids: every id must be below shard_count"):
        config.build({"discord": {"shard_count": 2, "shard_ids": [0, 2]}}, environ={})
    cfg = config.build({"discord": {"shard_count": 4, "shard_ids": [1, 3]}}, environ={})
    assert cfg.discord.shard_ids == (1, 3)


def test_token_from_environment_wins_and_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("", encoding="utf-8")
    secret = "MTIzNDU2Nzg5.abcdef.ghijklmnopqrstuvwxyz0123"
    cfg, warnings = config.load(path, environ={"DISCORD_TOKEN": secret})
    assert cfg.token.value == secret
    assert not warnings
    assert secret not in repr(cfg)
    assert secret not in config.render(cfg)


def test_token_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("tok-from-file-123456\n", encoding="utf-8")
    path = tmp_path / "c.toml"
    path.write_text('[discord]\ntoken_file = "token.txt"\n', encoding="utf-8")
    cfg, _ = config.load(path, environ={})
    assert cfg.token.value == "tok-from-file-123456"


def test_missing_token_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[discord]\ntoken_file = "nope.txt"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"discord.token_file: cannot be read"):
        config.load(path, environ={})


def test_token_in_world_readable_config_warns(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[discord]\ntoken = "inline-token-abcdefgh"\n', encoding="utf-8")
    os.chmod(path, 0o644)
    cfg, warnings = config.load(path, environ={})
    assert cfg.token.value == "inline-token-abcdefgh"
    assert warnings and "chmod 600" in warnings[0]
    assert "inline-token-abcdefgh" not in warnings[0]
    os.chmod(path, 0o600)
    _, warnings = config.load(path, environ={})
    assert warnings == []


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[discord\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path, environ={})


def test_extraction_workers_leave_the_audio_clock_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert config.build({}, environ={}).extractor.worker_processes == 1  # 2 CPUs: 1 worker
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert config.build({}, environ={}).extractor.worker_processes == 1  # never none
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert config.build({}, environ={}).extractor.worker_processes == 4  # nor a crowd
    cfg = config.build({"extractor": {"workers": 6}}, environ={})
    assert cfg.extractor.worker_processes == 6  # an operator's number is taken as it is
    for bad, why in (
        (0, 'must be "auto" or a number between 1 and 64 (got 0)'),
        (65, 'must be "auto" or a number between 1 and 64 (got 65)'),
        ("many", "must be an integer, or \"auto\" (got 'many')"),
    ):
        with pytest.raises(ConfigError) as info:
            config.build({"extractor": {"workers": bad}}, environ={})
        assert f"extractor.workers: {why}" in str(info.value)
