"""`make run` without a token: command parsing and completion, the demo world's stable ids,
ports that fall back (the demo itself runs in tests/demo/)."""

from __future__ import annotations

import socket

import pytest

from musicbot.demo import commands
from musicbot.demo.ports import pick_port
from musicbot.emulator.world import demo_world
from tests.demo.helpers import free_port


def test_demo_world_ids_are_the_same_on_every_run() -> None:
    a, b = demo_world()[0], demo_world()[0]
    assert a.application_id == b.application_id
    assert [(g.id, list(g.channels), list(g.members)) for g in a.guilds.values()] == [
        (g.id, list(g.channels), list(g.members)) for g in b.guilds.values()
    ]
    guild = next(iter(a.guilds.values()))
    humans = [m for m in guild.members.values() if not m.bot]
    assert [m.name for m in humans] == ["Alex", "Sam", "Linh"]
    assert [m.locale for m in humans] == ["en-US", "en-US", "vi"]
    assert all(guild.voice_states[m.user_id].channel_id == guild.voice_channel.id for m in humans)


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert pick_port("127.0.0.1", taken) == 0
    free = free_port()
    assert pick_port("127.0.0.1", free) == free


def test_lines_are_parsed_like_discord_would_send_them() -> None:
    def parse(line: str) -> tuple[str, dict[str, object]]:
        parsed = commands.parse(line)
        return parsed.path, dict(parsed.values)

    assert parse("/play never gonna give") == ("play", {"query": "never gonna give"})
    assert parse("/phát never gonna") == ("play", {"query": "never gonna"})
    assert parse("/move 3 1") == ("move", {"from": 3, "to": 1})
    assert parse("/move to=1 from=2") == ("move", {"from": 2, "to": 1})
    assert parse("/playlist save chill vibes") == ("playlist save", {"name": "chill vibes"})
    assert parse("/repeat queue") == ("repeat", {"mode": "queue"})
    assert commands.parse("/playlist save x").payload() == [
        {"type": 1, "name": "save", "options": [{"name": "name", "type": 3, "value": "x"}]}
    ]
    for bad, reason in (
        ("/volume loud", "whole number"),
        ("/nope", "unknown command"),
        ("/playlist", "needs one of"),
        ("/repeat sometimes", "one of"),
        ("/move 1", "needs to"),
    ):
        with pytest.raises(commands.ParseError, match=reason):
            commands.parse(bad)
    partial = commands.parse("/play mor", partial=True)
    assert partial.focused == "query"
    assert partial.payload(focused=True) == [
        {"name": "query", "type": 3, "value": "mor", "focused": True}
    ]


def test_completion_knows_both_languages_options_and_choices() -> None:
    words = [w for w, _ in commands.completions("/ph")]
    assert "/phát" in words and "/phát-tiếp" in words
    assert [w for w, _ in commands.completions("/repeat ")] == ["mode=", "chế-độ="]
    assert [w for w, _ in commands.completions("/repeat mode=q")] == ["mode=queue"]
    assert "save" in [w for w, _ in commands.completions("/playlist ")]
