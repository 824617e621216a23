"""The command definitions are valid Discord bodies, localized, and follow Discord's rules."""

from __future__ import annotations

import json
from typing import Any

from musicbot.commands import BY_NAME, command_payloads
from tests.rest.helpers import spec_validator

EXPECTED = {
    "ping", "play", "playnext", "search", "pause", "resume", "skip", "skipto", "previous",
    "stop", "join", "leave", "queue", "nowplaying", "seek", "volume", "repeat", "shuffle",
    "remove", "move", "clear", "history", "247", "playlist", "settings", "metrics", "health",
    "lyrics", "autoplay", "filter", "eq",
}  # fmt: skip
PLAYLIST_SUBCOMMANDS = {"save", "load", "list", "show", "add", "remove", "rename", "delete"}


def _valid_name(name: str) -> bool:
    # Discord: ^[-_'\p{L}\p{N}]{1,32}$ and the lower-case form of every letter.
    return (
        1 <= len(name) <= 32
        and name == name.lower()
        and all(ch.isalnum() or ch in "-_'" for ch in name)
    )


def _walk(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in options:
        out.append(o)
        out += _walk(o.get("options", []))
    return out


def test_payloads_validate_against_openapi() -> None:
    payloads = command_payloads()
    problems = spec_validator()("put", "/applications/{application_id}/commands", payloads)
    assert problems == []
    # The validator does catch a broken body (so the check above can fail).
    broken = [dict(payloads[0], description=None, options=[{"type": 3}])]
    assert spec_validator()("put", "/applications/{application_id}/commands", broken)


def test_every_command_is_defined_once() -> None:
    names = [c["name"] for c in command_payloads()]
    assert sorted(names) == sorted(EXPECTED)
    assert set(BY_NAME) == EXPECTED
    playlist = BY_NAME["playlist"].to_json()
    assert {o["name"] for o in playlist["options"]} == PLAYLIST_SUBCOMMANDS
    for sub in playlist["options"]:
        assert sub["type"] == 1
        scope = sub["options"][-1]
        assert scope["name"] == "scope"
        assert [c["value"] for c in scope["choices"]] == ["guild", "personal"]


def test_names_descriptions_and_localizations_follow_discord_rules() -> None:
    for command in command_payloads():
        assert command["contexts"] == [0]  # guild only
        assert len(json.dumps(command, ensure_ascii=False)) < 8000
        for item in [command, *_walk(command["options"])]:
            assert _valid_name(item["name"]), item["name"]
            assert _valid_name(item["name_localizations"]["vi"]), item["name_localizations"]
            assert 1 <= len(item["description"]) <= 100
            assert 1 <= len(item["description_localizations"]["vi"]) <= 100
            for choice in item.get("choices", []):
                assert 1 <= len(choice["name_localizations"]["vi"]) <= 100
            options = item.get("options", [])
            assert len(options) <= 25
            # Required options come first.
            flags = [o.get("required", False) for o in options if o["type"] > 2]
            assert flags == sorted(flags, reverse=True), item["name"]
            assert not (item.get("autocomplete") and item.get("choices"))
            siblings = [o["name"] for o in options]
            assert len(siblings) == len(set(siblings))
            vi = [o["name_localizations"]["vi"] for o in options]
            assert len(vi) == len(set(vi)), vi


def test_option_shapes_of_key_commands() -> None:
    play = BY_NAME["play"].to_json()["options"][0]
    assert (play["name"], play["type"], play["required"], play["autocomplete"]) == (
        "query", 3, True, True,
    )  # fmt: skip
    volume = BY_NAME["volume"].to_json()["options"][0]
    assert (volume["min_value"], volume["max_value"]) == (0, 200)
    repeat = BY_NAME["repeat"].to_json()["options"][0]
    assert [c["value"] for c in repeat["choices"]] == ["off", "track", "queue"]
    move = [o["name"] for o in BY_NAME["move"].to_json()["options"]]
    assert move == ["from", "to"]
    settings = {o["name"]: o for o in BY_NAME["settings"].to_json()["options"]}
    assert settings["dj_role"]["type"] == 8 and not settings["dj_role"]["required"]
    assert [c["value"] for c in settings["language"]["choices"]] == ["en", "vi"]
    assert BY_NAME["queue"].to_json()["options"][0]["required"] is False
