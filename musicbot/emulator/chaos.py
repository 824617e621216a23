"""Seeded fault plans: a replayable random sequence of what Discord does to a bot.

Theory.  A plan is drawn up front from ``random.Random(seed)`` as a list of :class:`Step` (a
fault kind, when to inject it, and its parameters), so the same seed always gives the same plan
and a failing seed replays exactly what was injected (timing on a real clock still varies, so
a replay reproduces the *faults*, not every race).  :func:`inject` applies one step to a
running emulator through its public fault controls: ``emu.gateway_faults`` (op 7, op 9, a
dropped socket, a RESUME answered with op 9), ``emu.rest_faults`` (429s of every scope, slow
answers) and ``emu.faults`` (the voice faults of :mod:`musicbot.emulator.faults`).

Every kind is one Discord really produces; none of them may cost the bot its queue.  Kinds that
need a live shard or voice session are skipped (and reported so) when there is none.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio
import trio_websocket

if TYPE_CHECKING:
    from musicbot.emulator.server import Emulator

GATEWAY_KINDS: Final = (
    "gateway_reconnect",  # op 7
    "gateway_invalid_resumable",  # op 9 d=true
    "gateway_invalid",  # op 9 d=false: a new session
    "gateway_drop",  # TCP gone without a close frame
    "gateway_resume_refused",  # the next RESUME is answered with op 9 d=false
)
REST_KINDS: Final = (
    "rest_429_user",
    "rest_429_shared",
    "rest_429_global_no_body",
    "rest_slow",
)
VOICE_KINDS: Final = (
    "voice_server_change",  # mid-song, either order, maybe a delay
    "voice_close_4015",  # voice server crashed: resume
    "voice_close_4006",  # session gone: a fresh voice connection
    "udp_loss",
    "peer_leaves",  # an MLS group member leaves (and comes back)
)
KINDS: Final = GATEWAY_KINDS + REST_KINDS + VOICE_KINDS
REST_TARGETS: Final = ("POST /channels/*", "PATCH /channels/*", "POST /interactions/*", "*")


@attrs.frozen(kw_only=True)
class Step:
    """One fault of a plan: a ``kind`` from ``KINDS``, injected ``at`` seconds in, with its
    ``params`` as sorted pairs (a tuple, so a step is hashable and prints the same each run)."""

    kind: str
    at: float  # seconds after the plan starts
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        """The parameter ``name`` of this step, or ``default`` when the kind has none."""
        return dict(self.params).get(name, default)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params)
        return f"t+{self.at:.2f}s {self.kind} {extra}".rstrip()


def plan(
    seed: int,
    *,
    steps: int = 4,
    duration: float = 5.0,
    kinds: Sequence[str] = KINDS,
) -> list[Step]:
    """``steps`` faults drawn from ``kinds`` at times spread over ``duration`` seconds."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
    rng = random.Random(seed)
    times = sorted(rng.uniform(0.0, duration) for _ in range(steps))
    out: list[Step] = []
    for at in times:
        kind = rng.choice(list(kinds))
        params: dict[str, Any] = {}
        if kind.startswith("rest_"):
            params["route"] = rng.choice(REST_TARGETS)
            params["retry_after"] = round(rng.uniform(0.2, 1.0), 2)
            if kind == "rest_slow":
                params["delay"] = round(rng.uniform(0.2, 1.5), 2)
        elif kind == "voice_server_change":
            params["order"] = rng.choice(("events_first", "close_first"))
            params["delay"] = round(rng.choice((0.0, rng.uniform(0.0, 0.5))), 2)
        elif kind == "udp_loss":
            params["count"] = rng.randint(1, 25)
        out.append(Step(kind=kind, at=round(at, 3), params=tuple(sorted(params.items()))))
    return out


async def inject(emu: Emulator, step: Step, *, guild_id: int, channel_id: int) -> str:
    """Apply ``step`` now; returns what was done (or why it was skipped)."""
    kind = step.kind
    gw = emu.gateway_faults
    try:
        if kind == "gateway_reconnect":
            await gw.send_reconnect()
        elif kind == "gateway_invalid_resumable":
            await gw.invalidate_session(resumable=True)
        elif kind == "gateway_invalid":
            await gw.invalidate_session(resumable=False)
        elif kind == "gateway_drop":
            await gw.drop()
        elif kind == "gateway_resume_refused":
            gw.invalidate_next_resume(resumable=False)
            try:
                await gw.send_reconnect()
            except LookupError:  # the bot is reconnecting already: that resume is refused
                return f"{step} (no live connection: the resume under way is refused)"
        elif kind in REST_KINDS:
            _rest(emu, step)
        elif kind in VOICE_KINDS:
            await _voice(emu, step, guild_id=guild_id, channel_id=channel_id)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
    except LookupError as gone:  # no live shard, no voice session at this moment
        return f"{step} skipped ({gone})"
    except (trio_websocket.ConnectionClosed, trio.BrokenResourceError) as gone:
        return f"{step} skipped (the socket closed meanwhile: {type(gone).__name__})"
    return str(step)


def _rest(emu: Emulator, step: Step) -> None:
    faults = emu.rest_faults
    route = str(step.param("route", "*"))
    retry = float(step.param("retry_after", 0.5))
    if step.kind == "rest_429_user":
        faults.rate_limit(route, scope="user", retry_after=retry)
    elif step.kind == "rest_429_shared":
        faults.rate_limit(route, scope="shared", retry_after=retry)
    elif step.kind == "rest_429_global_no_body":
        faults.rate_limit(route, scope="global", retry_after=retry, json_body=False)
    else:
        faults.slow(route, float(step.param("delay", 0.5)))


async def _voice(emu: Emulator, step: Step, *, guild_id: int, channel_id: int) -> None:
    faults = emu.faults
    if faults is None:
        raise LookupError("this emulator runs no voice server of its own")
    if emu.world.voice_channel_of(guild_id, emu.world.bot_user_id) is None:
        raise LookupError("the bot is not in voice")
    if step.kind == "voice_server_change":
        await faults.change_voice_server(
            guild_id, order=step.param("order", "events_first"), delay=step.param("delay", 0.0)
        )
    elif step.kind == "voice_close_4015":
        await faults.close_voice(guild_id, 4015)
    elif step.kind == "voice_close_4006":
        await faults.close_voice(guild_id, 4006)
    elif step.kind == "udp_loss":
        faults.lose_udp(int(step.param("count", 5)))
    else:  # peer_leaves: a listener leaves the MLS group and joins again
        peer = emu.world.new_id()
        faults.peer_joins(guild_id, channel_id, peer)
        faults.peer_leaves(guild_id, channel_id, peer)
