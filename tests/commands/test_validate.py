"""Options are checked against the registered definitions (musicbot.commands.validate)."""

from __future__ import annotations

from typing import Any

import pytest

from musicbot.commands.definitions import BY_NAME
from musicbot.commands.validate import Refusal, Valid, validate
from musicbot.gateway.events import CommandOption


def opt(name: str, type_: int, value: Any = None, *options: CommandOption) -> CommandOption:
    return CommandOption(name=name, type=type_, value=value, options=options)


def refused(name: Any, *options: CommandOption) -> str:
    outcome = validate(BY_NAME, name, options)
    assert isinstance(outcome, Refusal), outcome
    return outcome.key


def test_good_options_come_out_typed() -> None:
    outcome = validate(BY_NAME, "volume", (opt("percent", 4, 150),))
    assert outcome == Valid(path=("volume",), values={"percent": 150})
    outcome = validate(
        BY_NAME, "settings", (opt("dj_role", 8, "123456789012345678"), opt("language", 3, "vi"))
    )
    assert isinstance(outcome, Valid)
    assert outcome.values == {"dj_role": 123456789012345678, "language": "vi"}


def test_subcommands_give_the_path() -> None:
    outcome = validate(
        BY_NAME,
        "playlist",
        (opt("save", 1, None, opt("name", 3, "Mine"), opt("scope", 3, "personal")),),
    )
    assert isinstance(outcome, Valid)
    assert outcome.name == "playlist save"
    assert outcome.values == {"name": "Mine", "scope": "personal"}
    assert refused("playlist", opt("explode", 1)) == "valid.unknown_command"
    assert refused("playlist") == "valid.unknown_command"
    assert refused("playlist", opt("save", 3, "x")) == "valid.unknown_command"  # not a sub


@pytest.mark.parametrize(
    ("name", "option", "key"),
    [
        ("volume", opt("percent", 4, "loud"), "valid.bad_type"),
        ("volume", opt("percent", 4, True), "valid.bad_type"),  # a bool is not an integer
        ("volume", opt("percent", 4, 150.5), "valid.bad_type"),
        ("volume", opt("percent", 4, 201), "valid.out_of_range"),
        ("volume", opt("percent", 4, -1), "valid.out_of_range"),
        ("volume", opt("percent", 4, 2**60), "valid.bad_type"),
        ("volume", opt("percent", 3, "100"), "valid.bad_type"),  # the wrong option type
        ("repeat", opt("mode", 3, "forever"), "valid.bad_choice"),
        ("seek", opt("position", 3, "1" * 13), "valid.too_long"),
        ("seek", opt("position", 3, None), "valid.bad_type"),
        ("play", opt("query", 3, "x" * 7000), "valid.too_long"),
        ("remove", opt("index", 4, 0), "valid.too_small"),
        ("settings", opt("dj_role", 8, "abc"), "valid.bad_type"),
        ("settings", opt("dj_role", 8, "0"), "valid.bad_type"),
        ("settings", opt("dj_role", 8, str(2**64)), "valid.bad_type"),
        ("volume", opt("loudness", 4, 3), "valid.unknown_option"),
        ("volume", opt(7, 4, 3), "valid.unknown_option"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_refused(name: str, option: CommandOption, key: str) -> None:
    assert refused(name, option) == key


def test_missing_duplicate_and_unknown() -> None:
    assert refused("seek") == "valid.missing_option"  # (/volume alone shows it)
    assert refused("move", opt("from", 4, 1)) == "valid.missing_option"
    assert refused("volume", opt("percent", 4, 1), opt("percent", 4, 2)) == "valid.duplicate_option"
    assert refused(12) == "valid.unknown_command"
    assert refused(None) == "valid.unknown_command"
    assert refused("nope") == "valid.unknown_command"
    outcome = validate(BY_NAME, "volume", "not a list")
    assert isinstance(outcome, Refusal) and outcome.key == "valid.malformed"


def test_numbers_must_be_finite() -> None:
    from musicbot.commands.model import Option, OptionType, Text
    from musicbot.commands.validate import check_value

    number = Option(
        type=OptionType.NUMBER, name=Text(en="x", vi="x"), description=Text(en="", vi="")
    )
    for bad in (float("nan"), float("inf"), float("-inf"), "1.0", None, True):
        assert isinstance(check_value(number, bad), Refusal), bad
    assert check_value(number, 2.5) == 2.5
