"""Errors of the ops endpoint."""

from __future__ import annotations

import attrs

from musicbot.errors import MusicBotError


@attrs.define(auto_exc=True, eq=False)
class OpsListenError(MusicBotError):
    """The ops endpoint could not bind ``[ops] listen`` (port in use, unknown host, ...)."""

    listen: str
    reason: str

    def __str__(self) -> str:
        return (
            f"cannot serve the ops endpoint on {self.listen!r}: {self.reason}; "
            'change [ops] listen, or set it to "" to turn the endpoint off'
        )
