"""The guild actor's command table: which handler answers which interaction.

Theory.  Each command family (music, playlists, settings, ops) is a module that builds one
:class:`Family` value from its own functions; :func:`actors.guild.families.default_table` joins
them into a :class:`CommandTable`, and whoever composes the guild supervisor hands that table to
every guild actor through ``GuildDeps.commands``.  Nothing registers itself by being imported,
the actor module imports no family (so there is no import cycle between the actor and its
commands), and a test can hand an actor a table of its own.

Names are the command path ("play", "playlist save") or a component's custom id.  A custom id
carries data after its prefix ("queue:page:3", "search:<token>"): a family registers the
prefix with a trailing ``*`` (``"queue:page:*"``), and :meth:`CommandTable.lookup` tries the exact
name first, then the longest registered prefix.

A family also names the handlers of the reports its own child tasks post back to the actor
(``Extracted`` for /play, ``PlaylistTrackFound`` for /playlist add), keyed by message type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from actors.guild.messages import Invocation

if TYPE_CHECKING:
    from actors.guild.actor import Guild

Handler = Callable[["Guild", Invocation], Awaitable[None]]
ReportHandler = Callable[["Guild", Any], Awaitable[None]]


@attrs.frozen(kw_only=True)
class Family:
    """One module's commands: handlers by name, which of them need a DJ, and its reports."""

    name: str
    handlers: Mapping[str, Handler]
    dj_only: frozenset[str] = frozenset()
    reports: Mapping[type, ReportHandler] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CommandTable:
    """Every family's handlers, DJ-only names and report handlers, joined by :meth:`of`."""

    handlers: Mapping[str, Handler]
    dj_only: frozenset[str]
    reports: Mapping[type, ReportHandler]

    @classmethod
    def of(cls, *families: Family) -> CommandTable:
        """Join families; a name claimed twice is a programming error, found at start-up."""
        handlers: dict[str, Handler] = {}
        reports: dict[type, ReportHandler] = {}
        dj_only: set[str] = set()
        for family in families:
            for name, handler in family.handlers.items():
                if name in handlers:
                    raise ValueError(f"command {name!r} claimed twice (family {family.name})")
                handlers[name] = handler
            for kind, report in family.reports.items():
                if kind in reports:
                    raise ValueError(f"report {kind.__name__} claimed twice ({family.name})")
                reports[kind] = report
            dj_only |= family.dj_only
        return cls(handlers=handlers, dj_only=frozenset(dj_only), reports=reports)

    def lookup(self, name: str) -> tuple[str, Handler] | None:
        """The registered key and handler answering ``name``, or None."""
        handler = self.handlers.get(name)
        if handler is not None:
            return name, handler
        best: tuple[str, Handler] | None = None
        for key, candidate in self.handlers.items():
            fits = key.endswith("*") and name.startswith(key[:-1])
            if fits and (best is None or len(key) > len(best[0])):
                best = (key, candidate)
        return best

    def needs_dj(self, key: str) -> bool:
        """Whether the handler registered as ``key`` (the key :meth:`lookup` returned, not the
        raw custom id) is only for DJs."""
        return key in self.dj_only


__all__ = ["CommandTable", "Family", "Handler", "ReportHandler"]
