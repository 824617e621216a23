"""Structured exceptions shared across layers.

Errors carry fields, not prose: the user-facing, localized reasons live in
``musicbot.i18n`` and are chosen from these fields by the commands layer.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ConfigProblem:
    section: str
    key: str
    reason: str
    got: str

    def __str__(self) -> str:
        where = ".".join(p for p in (self.section, self.key) if p) or "config"
        got = f" (got {self.got})" if self.got else ""
        return f"{where}: {self.reason}{got}"


@attrs.define(auto_exc=True, eq=False)
class MusicBotError(Exception):
    """Base of every error the bot raises on purpose."""


@attrs.define(auto_exc=True, eq=False)
class ConfigError(MusicBotError):
    source: str
    problems: tuple[ConfigProblem, ...]

    def __str__(self) -> str:
        head = f"{self.source}: {len(self.problems)} problem(s) in the configuration"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


@attrs.define(auto_exc=True, eq=False)
class ActorDeadError(MusicBotError):
    """The actor behind a handle has stopped; its inbox is closed."""

    actor: str

    def __str__(self) -> str:
        return f"actor {self.actor!r} is not running"


@attrs.define(auto_exc=True, eq=False)
class ActorTimeoutError(MusicBotError):
    """The actor did not answer in time."""

    actor: str
    request: str
    timeout: float

    def __str__(self) -> str:
        return f"actor {self.actor!r} did not answer {self.request} within {self.timeout:g} s"
