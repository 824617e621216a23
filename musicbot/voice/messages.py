"""The voice connection's inbox: the owner's requests, main-gateway events, socket outcomes.

Socket outcomes carry the generation they were started in; the run task ignores stale ones.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Join:
    channel_id: int


@attrs.frozen(kw_only=True)
class Leave:
    pass


@attrs.frozen(kw_only=True)
class StateUpdate:
    session_id: str
    channel_id: int | None


@attrs.frozen(kw_only=True)
class ServerUpdate:
    token: str = attrs.field(repr=False)
    endpoint: str | None


@attrs.frozen(kw_only=True)
class SocketConnected:
    generation: int
    resumed: bool


@attrs.frozen(kw_only=True)
class SocketEnded:
    generation: int
    code: int | None
    error: str


ConnectionMsg = Join | Leave | StateUpdate | ServerUpdate | SocketConnected | SocketEnded
