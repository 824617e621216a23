"""The guild actor: one per guild, owning its queue, player, voice call and settings.

The public surface is ``__all__``: the actor (:func:`~actors.guild.actor.run`, its state
:class:`~actors.guild.actor.Guild` and dependencies :class:`~actors.guild.actor.GuildDeps`), the
messages its inbox takes (:data:`~actors.guild.messages.GuildMsg`), and the command table a new
command is added to (:func:`~actors.guild.families.default_table`).  The names load on first
use (PEP 562 ``__getattr__``; :mod:`musicbot.lazy`) so that importing one submodule does not
import the whole actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from musicbot import lazy

if TYPE_CHECKING:
    from actors.guild.actor import BotIdentity, Guild, GuildDeps, run
    from actors.guild.call import Call
    from actors.guild.families import default_table
    from actors.guild.messages import Command, GatewayReady, GuildMsg, Invocation, Shutdown
    from actors.guild.table import CommandTable, Family, Handler

_WHERE: dict[str, str] = {
    "run": "actor",
    "Guild": "actor",
    "GuildDeps": "actor",
    "BotIdentity": "actor",
    "Call": "call",
    "default_table": "families",
    "GuildMsg": "messages",
    "Invocation": "messages",
    "Command": "messages",
    "GatewayReady": "messages",
    "Shutdown": "messages",
    "CommandTable": "table",
    "Family": "table",
    "Handler": "table",
}

__all__ = [
    "BotIdentity",
    "Call",
    "Command",
    "CommandTable",
    "Family",
    "GatewayReady",
    "Guild",
    "GuildDeps",
    "GuildMsg",
    "Handler",
    "Invocation",
    "Shutdown",
    "default_table",
    "run",
]


__getattr__, __dir__ = lazy.exports(__name__, _WHERE, globals(), __all__)
