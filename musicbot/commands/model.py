"""Slash-command definitions as data, and their Discord JSON form.

A definition carries its English text and the Vietnamese localization (locale ``"vi"``);
``to_json()`` produces the body Discord's ``PUT …/commands`` takes.
"""

from __future__ import annotations

import enum
from typing import Any, Final

import attrs

VI: Final = "vi"  # Discord locale of Vietnamese


class OptionType(enum.IntEnum):
    """Application command option types (Discord)."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


class Context(enum.IntEnum):
    """Interaction context types: where a command may be used."""

    GUILD = 0
    BOT_DM = 1
    PRIVATE_CHANNEL = 2


CHAT_INPUT: Final = 1  # application command type of a slash command
GUILD_INSTALL: Final = 0  # application integration type
MANAGE_GUILD: Final = 1 << 5  # permission bit


@attrs.frozen(kw_only=True)
class Text:
    """An English text with its Vietnamese translation."""

    en: str
    vi: str


@attrs.frozen(kw_only=True)
class Choice:
    name: Text
    value: str | int

    def to_json(self) -> dict[str, Any]:
        """The choice as Discord's application-command payload (with its Vietnamese name)."""
        return {"name": self.name.en, "name_localizations": {VI: self.name.vi}, "value": self.value}


@attrs.frozen(kw_only=True)
class Option:
    type: OptionType
    name: Text
    description: Text
    required: bool = False
    autocomplete: bool = False
    choices: tuple[Choice, ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    options: tuple[Option, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The option as Discord's application-command option payload (limits only when set)."""
        out: dict[str, Any] = {
            "type": int(self.type),
            "name": self.name.en,
            "name_localizations": {VI: self.name.vi},
            "description": self.description.en,
            "description_localizations": {VI: self.description.vi},
        }
        if self.type not in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            out["required"] = self.required
        if self.autocomplete:
            out["autocomplete"] = True
        if self.choices:
            out["choices"] = [c.to_json() for c in self.choices]
        for key in ("min_value", "max_value", "min_length", "max_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.options:
            out["options"] = [o.to_json() for o in self.options]
        return out


@attrs.frozen(kw_only=True)
class Command:
    name: Text
    description: Text
    options: tuple[Option, ...] = ()
    # None: everyone; otherwise the permission bits a member needs by default.
    default_member_permissions: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The command as Discord's application-command payload: a guild-only chat-input command
        with its localizations and options."""
        out: dict[str, Any] = {
            "type": CHAT_INPUT,
            "name": self.name.en,
            "name_localizations": {VI: self.name.vi},
            "description": self.description.en,
            "description_localizations": {VI: self.description.vi},
            "contexts": [int(Context.GUILD)],  # music needs a guild's voice channel
            "integration_types": [GUILD_INSTALL],
            "options": [o.to_json() for o in self.options],
        }
        if self.default_member_permissions is not None:
            out["default_member_permissions"] = self.default_member_permissions
        return out


def string(
    en: str,
    vi: str,
    desc_en: str,
    desc_vi: str,
    *,
    required: bool = True,
    autocomplete: bool = False,
    choices: tuple[Choice, ...] = (),
    max_length: int | None = None,
) -> Option:
    return Option(
        type=OptionType.STRING,
        name=Text(en=en, vi=vi),
        description=Text(en=desc_en, vi=desc_vi),
        required=required,
        autocomplete=autocomplete,
        choices=choices,
        max_length=max_length,
    )


def integer(
    en: str,
    vi: str,
    desc_en: str,
    desc_vi: str,
    *,
    required: bool = True,
    min_value: int | None = None,
    max_value: int | None = None,
) -> Option:
    return Option(
        type=OptionType.INTEGER,
        name=Text(en=en, vi=vi),
        description=Text(en=desc_en, vi=desc_vi),
        required=required,
        min_value=min_value,
        max_value=max_value,
    )
