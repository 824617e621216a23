"""The deployment examples do what docs/operations.md says (run the StatefulSet's start script
for each pod ordinal; read the systemd template)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from musicbot import config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes" / "musicbot.yaml"


def _start_script() -> str:
    text = K8S.read_text(encoding="utf-8")
    m = re.search(r"args:\n\s+- \|\n((?:\s{14}.*\n)+)", text)
    assert m is not None, "the container's start script"
    return "\n".join(line[14:] for line in m.group(1).splitlines())


def _value(name: str) -> str:
    m = re.search(rf"- name: {name}\n\s+value: \"(\d+)\"", K8S.read_text(encoding="utf-8"))
    assert m is not None, name
    return m.group(1)


def test_statefulset_pods_cover_every_shard_exactly_once() -> None:
    script = _start_script().replace(
        "exec python -m musicbot run --config /etc/musicbot/config.toml",
        'echo "$MUSICBOT_DISCORD_SHARD_COUNT;$MUSICBOT_DISCORD_SHARD_IDS"',
    )
    count, per_pod = int(_value("SHARD_COUNT")), int(_value("SHARDS_PER_POD"))
    replicas = int(re.search(r"replicas: (\d+)", K8S.read_text()).group(1))  # type: ignore[union-attr]
    assert replicas * per_pod == count
    seen: list[int] = []
    for ordinal in range(replicas):
        env = {
            "POD_NAME": f"musicbot-{ordinal}",
            "SHARD_COUNT": str(count),
            "SHARDS_PER_POD": str(per_pod),
            "PATH": "/usr/bin:/bin",
        }
        out = subprocess.run(
            ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        shard_count, shard_ids = out.split(";")
        cfg = config.build(
            {},
            environ={
                "MUSICBOT_DISCORD_SHARD_COUNT": shard_count,
                "MUSICBOT_DISCORD_SHARD_IDS": shard_ids,
            },
        )
        assert cfg.discord.shard_count == count
        assert cfg.discord.shard_ids != "auto"
        seen.extend(cfg.discord.shard_ids)
    assert sorted(seen) == list(range(count))


def test_systemd_template_reads_a_per_instance_environment() -> None:
    unit = (ROOT / "deploy" / "musicbot@.service").read_text(encoding="utf-8")
    assert "EnvironmentFile=/etc/musicbot/%i.env" in unit
    assert "ExecStart=/opt/musicbot/.venv/bin/python -m musicbot run" in unit
    # A shard list written as the docs show it is accepted by the config.
    cfg = config.build(
        {}, environ={"MUSICBOT_DISCORD_SHARD_COUNT": "4", "MUSICBOT_DISCORD_SHARD_IDS": "[2, 3]"}
    )
    assert cfg.discord.shard_ids == (2, 3)
