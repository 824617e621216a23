"""Checking an interaction's options against the command's own definition, before any handler.

Theory.  Discord enforces an option's type, choices, range and length in its client, but the
gateway payload is only JSON: a Discord-compatible server, a replayed request or a bug can send
``"nan"`` where an integer belongs, a choice that does not exist, or a 100 kB string.  So every
slash command is checked once, here, against the same :class:`~musicbot.commands.model.Command`
the bot registered, and a handler only ever sees values the schema allows:

* the path of sub-commands must exist in the definition, one level at a time;
* every option must be defined for that path, appear once, and have the defined type:
  STRING is ``str``; INTEGER is an ``int`` (not a ``bool``) within Discord's ±2^53; NUMBER is
  a finite ``int`` or ``float``; BOOLEAN is a ``bool``; USER, CHANNEL, ROLE, MENTIONABLE and
  ATTACHMENT are snowflakes (a decimal string or an ``int`` in 1..2^64-1, returned as ``int``);
* choices, ``min_value``/``max_value`` and ``min_length``/``max_length`` hold as defined, and a
  string is never longer than Discord's 6000 characters;
* every required option is present.

The outcome is either :class:`Valid` (the path and typed values) or :class:`Refusal`, which
names an i18n key and its fields so the member gets a clear answer in their language.  This
module is pure: no I/O, no trio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, TypeAlias

import attrs

from musicbot.commands.model import Command, Option, OptionType
from musicbot.i18n import register

MAX_SAFE_INTEGER: Final = 2**53  # Discord's INTEGER range is -2^53..2^53
MAX_SNOWFLAKE: Final = 2**64 - 1
MAX_STRING: Final = 6000  # Discord's longest string option value
MAX_OPTIONS: Final = 25  # Discord allows at most 25 options per command
SUBCOMMANDS: Final = frozenset({OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP})
SNOWFLAKES: Final = frozenset(
    {
        OptionType.USER,
        OptionType.CHANNEL,
        OptionType.ROLE,
        OptionType.MENTIONABLE,
        OptionType.ATTACHMENT,
    }
)

Value: TypeAlias = str | int | float | bool


class RawOption(Protocol):
    """What the gateway parser gives for one option (``musicbot.gateway.events.CommandOption``);
    nothing about its fields is trusted here."""

    @property
    def name(self) -> Any: ...

    @property
    def type(self) -> Any: ...

    @property
    def value(self) -> Any: ...

    @property
    def options(self) -> Any: ...


@attrs.frozen(kw_only=True)
class Valid:
    """``path`` is the command and its sub-commands ("playlist", "save"); ``values`` the typed
    option values by their English names."""

    path: tuple[str, ...]
    values: Mapping[str, Value]

    @property
    def name(self) -> str:
        return " ".join(self.path)


@attrs.frozen(kw_only=True)
class Refusal:
    """Why an interaction was refused: an i18n key (``valid.*``) and its fields."""

    key: str
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    option: str | None = None  # the option at fault, if any (for logs)


Outcome: TypeAlias = Valid | Refusal


def validate(tree: Mapping[str, Command], name: object, options: object) -> Outcome:
    """Check a slash command named ``name`` with the raw ``options`` list against ``tree``."""
    if not isinstance(name, str) or name not in tree:
        return Refusal(key="valid.unknown_command")
    command = tree[name]
    path = [name]
    defined: Sequence[Option] = command.options
    raw = options
    while True:
        items = _as_options(raw)
        if items is None:
            return Refusal(key="valid.malformed")
        if any(o.type in SUBCOMMANDS for o in defined):
            # A command with sub-commands takes exactly one of them and nothing beside it.
            if len(items) != 1:
                return Refusal(key="valid.unknown_command")
            item = items[0]
            sub = _find(defined, item.name)
            if sub is None or sub.type not in SUBCOMMANDS or _int_or_none(item.type) != sub.type:
                return Refusal(key="valid.unknown_command")
            path.append(sub.name.en)
            defined = sub.options
            raw = item.options
            continue
        return _check_leaf(tuple(path), defined, items)


def _as_options(raw: object) -> list[RawOption] | None:
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_OPTIONS:
        return None
    items: list[RawOption] = []
    for item in raw:
        if not all(hasattr(item, f) for f in ("name", "type", "value", "options")):
            return None
        items.append(item)
    return items


def _find(defined: Sequence[Option], name: object) -> Option | None:
    if not isinstance(name, str):
        return None
    for option in defined:
        if option.name.en == name:
            return option
    return None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _check_leaf(
    path: tuple[str, ...], defined: Sequence[Option], items: list[RawOption]
) -> Outcome:
    values: dict[str, Value] = {}
    for item in items:
        option = _find(defined, item.name)
        if option is None or option.type in SUBCOMMANDS:
            return Refusal(key="valid.unknown_option", fields={"option": str(item.name)[:32]})
        label = option.name.en
        if label in values:
            return Refusal(key="valid.duplicate_option", fields={"option": label}, option=label)
        if _int_or_none(item.type) != option.type:
            return Refusal(key="valid.bad_type", fields={"option": label}, option=label)
        checked = check_value(option, item.value)
        if isinstance(checked, Refusal):
            return checked
        values[label] = checked
    for option in defined:
        if option.required and option.name.en not in values:
            label = option.name.en
            return Refusal(key="valid.missing_option", fields={"option": label}, option=label)
    return Valid(path=path, values=values)


def check_value(option: Option, value: object) -> Value | Refusal:
    """One value against its definition: the typed value, or why it is refused."""
    label = option.name.en
    bad = Refusal(key="valid.bad_type", fields={"option": label}, option=label)
    typed: Value
    match option.type:
        case OptionType.STRING:
            if not isinstance(value, str) or len(value) > MAX_STRING:
                return bad if not isinstance(value, str) else _too_long(option, MAX_STRING)
            if option.min_length is not None and len(value) < option.min_length:
                return Refusal(
                    key="valid.too_short",
                    fields={"option": label, "min": option.min_length},
                    option=label,
                )
            if option.max_length is not None and len(value) > option.max_length:
                return _too_long(option, option.max_length)
            typed = value
        case OptionType.INTEGER:
            number = _int_or_none(value)
            if number is None or abs(number) > MAX_SAFE_INTEGER:
                return bad
            typed = number
        case OptionType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return bad
            if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
                return bad
            if not math.isfinite(value):
                return bad
            typed = value
        case OptionType.BOOLEAN:
            if not isinstance(value, bool):
                return bad
            typed = value
        case t if t in SNOWFLAKES:
            snowflake = _snowflake(value)
            if snowflake is None:
                return bad
            typed = snowflake
        case _:
            return bad
    if option.choices and typed not in {c.value for c in option.choices}:
        return Refusal(
            key="valid.bad_choice",
            fields={"option": label, "choices": ", ".join(str(c.value) for c in option.choices)},
            option=label,
        )
    if isinstance(typed, (int, float)) and not isinstance(typed, bool):
        low, high = option.min_value, option.max_value
        if (low is not None and typed < low) or (high is not None and typed > high):
            return Refusal(
                key=_range_key(low, high), fields=_range_fields(label, low, high), option=label
            )
    return typed


def _too_long(option: Option, limit: int) -> Refusal:
    label = option.name.en
    return Refusal(key="valid.too_long", fields={"option": label, "max": limit}, option=label)


def _range_key(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return "valid.out_of_range"
    return "valid.too_small" if low is not None else "valid.too_big"


def _range_fields(label: str, low: int | None, high: int | None) -> dict[str, Any]:
    return {"option": label, "min": low, "max": high}


def _snowflake(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    elif (n := _int_or_none(value)) is not None:
        number = n
    else:
        return None
    return number if 0 < number <= MAX_SNOWFLAKE else None


register(
    en={
        "valid.unknown_command": "I don't know that command.",
        "valid.malformed": "I couldn't read the options of that command.",
        "valid.unknown_option": "The option **{option}** does not belong to this command.",
        "valid.duplicate_option": "The option **{option}** was given twice.",
        "valid.bad_type": "I don't understand the value of **{option}**.",
        "valid.too_short": "**{option}** must be at least {min} characters long.",
        "valid.too_long": "**{option}** must be at most {max} characters long.",
        "valid.bad_choice": "**{option}** must be one of: {choices}.",
        "valid.out_of_range": "**{option}** must be between {min} and {max}.",
        "valid.too_small": "**{option}** must be at least {min}.",
        "valid.too_big": "**{option}** must be at most {max}.",
        "valid.missing_option": "**{option}** is required.",
    },
    vi={
        "valid.unknown_command": "Mình không biết lệnh này.",
        "valid.malformed": "Mình không đọc được các tùy chọn của lệnh đó.",
        "valid.unknown_option": "Tùy chọn **{option}** không thuộc lệnh này.",
        "valid.duplicate_option": "Tùy chọn **{option}** bị nhập hai lần.",
        "valid.bad_type": "Mình không hiểu giá trị của **{option}**.",
        "valid.too_short": "**{option}** phải dài ít nhất {min} ký tự.",
        "valid.too_long": "**{option}** chỉ được dài tối đa {max} ký tự.",
        "valid.bad_choice": "**{option}** phải là một trong: {choices}.",
        "valid.out_of_range": "**{option}** phải nằm trong khoảng {min} đến {max}.",
        "valid.too_small": "**{option}** phải ít nhất là {min}.",
        "valid.too_big": "**{option}** chỉ được tối đa là {max}.",
        "valid.missing_option": "Cần có **{option}**.",
    },
)


__all__ = ["Outcome", "Refusal", "Valid", "Value", "check_value", "validate"]
