"""Slash commands: definitions as data (English + Vietnamese) and their registration."""

from musicbot.commands.definitions import BY_NAME, COMMANDS, command_payloads
from musicbot.commands.model import Choice, Command, Option, OptionType, Text
from musicbot.commands.sync import normalize_command, same_commands, sync_commands

__all__ = [
    "BY_NAME",
    "COMMANDS",
    "Choice",
    "Command",
    "Option",
    "OptionType",
    "Text",
    "command_payloads",
    "normalize_command",
    "same_commands",
    "sync_commands",
]
