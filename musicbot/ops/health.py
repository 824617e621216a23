"""Health of the bot as a pure function of a few observed facts.

Theory: :func:`evaluate` takes :class:`HealthInputs` (one :class:`ShardHealth` per shard this
process runs, the REST client's last success / first failure times, voice connection counts) and
a ``now`` on the same clock (``trio.current_time()``), and returns a :class:`HealthReport`:

* **unhealthy** (``/healthz`` answers 503, a supervisor such as systemd or Docker should act):
  a shard has been disconnected or reconnecting for longer than ``disconnected_grace``; a
  connected shard has had no heartbeat ACK for more than ``missed_acks`` heartbeat intervals (a
  zombie connection the shard failed to notice); a shard dropped a connection as a zombie (no
  ACK for a whole interval) and has had no ACK since, on any connection (``zombie_since``: the
  gateway stopped acknowledging us, resuming does not help until an ACK arrives again); REST has
  been failing for longer than ``rest_grace``.
* **degraded** (still 200: the bot works, a human may want to look): a shard's heartbeat latency
  is above ``degraded_latency``; a shard is connecting or reconnecting (briefly); the bot is
  still ``starting`` (not every expected shard is up yet, so it is never healthy before it is
  ready); REST is failing (briefly);
  some voice connections are not healthy; yt-dlp is older than ``extractor_stale_days`` (YouTube
  breaks old releases within weeks).
* **healthy** otherwise.

Readiness (``/readyz``) is separate: every expected shard is connected (READY or RESUMED). Before
the shard count is known (``expected_shards == 0``) the bot is not ready.

Ownership: :class:`HealthState` is the single mutable record the running bot updates.  It is
created by the composition root (``musicbot/app.py``) and passed to the writers; each field has
exactly one writer (shard *n*'s task writes only shard *n*'s entry, the REST client writes the
REST fields, the guild supervisor writes the voice counts) and the ops server only reads through
:meth:`HealthState.health_inputs`.  All methods are synchronous and called from Trio tasks on the
main thread, so a reader never sees a half-written update.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any, Final, Protocol

import attrs

DEGRADED_LATENCY: Final = 0.5  # seconds of heartbeat round trip before we call it degraded
DISCONNECTED_GRACE: Final = 60.0  # a resume normally takes a few seconds; a minute is not normal
MISSED_ACKS: Final = 2  # intervals without ACK; the shard itself reconnects after 1 (zombie rule)
REST_GRACE: Final = 120.0  # seconds of failing REST before the bot cannot answer anyone
EXTRACTOR_STALE_DAYS: Final = 60  # yt-dlp releases older than this rarely still play YouTube


class Status(enum.Enum):
    """The overall health: healthy, degraded (works, with trouble) or unhealthy."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class ShardStatus(enum.Enum):
    """A shard's connection as the health report sees it."""

    CONNECTING = "connecting"  # first connect / identify, never been ready yet
    CONNECTED = "connected"  # READY or RESUMED received
    RECONNECTING = "reconnecting"  # lost the connection, resuming or re-identifying
    DISCONNECTED = "disconnected"  # stopped (fatal close code) or not running


@attrs.frozen(kw_only=True)
class ShardHealth:
    shard_id: int
    status: ShardStatus
    since: float  # clock time the status was entered
    last_ack: float | None = None  # clock time of the last heartbeat ACK
    heartbeat_interval: float | None = None  # seconds, from HELLO
    latency: float | None = None  # seconds, last heartbeat round trip
    zombie_since: float | None = None  # a zombie reconnect happened and no ACK came since


@attrs.frozen(kw_only=True)
class HealthInputs:
    shards: tuple[ShardHealth, ...] = ()
    expected_shards: int = 0  # shards this process should run; 0 = not known yet
    rest_last_success: float | None = None
    rest_failing_since: float | None = None  # None while the last request succeeded
    voice_healthy: int = 0
    voice_total: int = 0
    extractor_version: str = ""  # yt-dlp's version; "" = not known
    extractor_age_days: int | None = None  # days since that release


@attrs.frozen(kw_only=True)
class Thresholds:
    degraded_latency: float = DEGRADED_LATENCY
    disconnected_grace: float = DISCONNECTED_GRACE
    missed_acks: int = MISSED_ACKS
    rest_grace: float = REST_GRACE
    extractor_stale_days: int = EXTRACTOR_STALE_DAYS


@attrs.frozen(kw_only=True)
class Reason:
    code: str  # stable, machine-readable: "shard_latency", "shard_no_ack", ...
    status: Status  # how bad this one finding is
    detail: str  # a sentence for the operator
    shard_id: int | None = None


@attrs.frozen(kw_only=True)
class HealthReport:
    status: Status
    ready: bool
    reasons: tuple[Reason, ...]
    rest_last_success_age: float | None = None  # seconds since Discord's API last answered
    extractor_version: str = ""
    extractor_age_days: int | None = None

    def extractor_summary(self) -> str:
        """``2026.10.26 (37 d)``: yt-dlp's version and age, for /health."""
        if not self.extractor_version:
            return "—"
        age = "" if self.extractor_age_days is None else f" ({self.extractor_age_days} d)"
        return self.extractor_version + age

    def to_json(self) -> dict[str, Any]:
        """The report as the JSON body of ``/healthz`` (status, readiness, reasons)."""
        age = self.rest_last_success_age
        extractor = (
            {"extractor": {"version": self.extractor_version, "age_days": self.extractor_age_days}}
            if self.extractor_version
            else {}
        )
        return extractor | {
            "status": self.status.value,
            "ready": self.ready,
            "rest_last_success_age": None if age is None else round(age, 3),
            "reasons": [
                {"code": r.code, "status": r.status.value, "detail": r.detail}
                | ({"shard_id": r.shard_id} if r.shard_id is not None else {})
                for r in self.reasons
            ],
        }


class HealthSource(Protocol):
    """Anything the ops server can ask for the current inputs (``HealthState`` is one)."""

    def health_inputs(self) -> HealthInputs:
        """The current facts the health report is computed from."""


def _shard_reasons(s: ShardHealth, now: float, th: Thresholds) -> list[Reason]:
    out: list[Reason] = []
    down_for = now - s.since
    if s.zombie_since is not None:
        out.append(
            Reason(
                code="shard_no_ack",
                status=Status.UNHEALTHY,
                detail=f"shard {s.shard_id}: the gateway stopped acknowledging heartbeats "
                f"{now - s.zombie_since:.0f} s ago (zombie connection)",
                shard_id=s.shard_id,
            )
        )
    if s.status in (ShardStatus.RECONNECTING, ShardStatus.DISCONNECTED):
        bad = down_for > th.disconnected_grace or s.status is ShardStatus.DISCONNECTED
        out.append(
            Reason(
                code=f"shard_{s.status.value}",
                status=Status.UNHEALTHY if bad else Status.DEGRADED,
                detail=f"shard {s.shard_id} {s.status.value} for {down_for:.0f} s",
                shard_id=s.shard_id,
            )
        )
        return out
    if s.status is ShardStatus.CONNECTING:
        stuck = down_for > th.disconnected_grace
        out.append(
            Reason(
                code="shard_connecting",
                status=Status.UNHEALTHY if stuck else Status.DEGRADED,
                detail=f"shard {s.shard_id} still connecting after {down_for:.0f} s"
                if stuck
                else f"shard {s.shard_id} connecting ({down_for:.0f} s)",
                shard_id=s.shard_id,
            )
        )
        return out
    # CONNECTED: the ACK clock starts when the shard connected if no ACK came yet.
    if s.heartbeat_interval and s.zombie_since is None:
        ack_age = now - (s.last_ack if s.last_ack is not None else s.since)
        if ack_age > th.missed_acks * s.heartbeat_interval:
            out.append(
                Reason(
                    code="shard_no_ack",
                    status=Status.UNHEALTHY,
                    detail=f"shard {s.shard_id}: no heartbeat ACK for {ack_age:.0f} s",
                    shard_id=s.shard_id,
                )
            )
    if s.latency is not None and s.latency > th.degraded_latency:
        out.append(
            Reason(
                code="shard_latency",
                status=Status.DEGRADED,
                detail=f"shard {s.shard_id}: gateway latency {s.latency * 1000:.0f} ms",
                shard_id=s.shard_id,
            )
        )
    return out


def evaluate(inputs: HealthInputs, now: float, th: Thresholds | None = None) -> HealthReport:
    """The status, readiness and every reason behind them."""
    th = th or Thresholds()
    reasons: list[Reason] = []
    for shard in sorted(inputs.shards, key=lambda s: s.shard_id):
        reasons.extend(_shard_reasons(shard, now, th))
    if inputs.rest_failing_since is not None:
        failing_for = now - inputs.rest_failing_since
        reasons.append(
            Reason(
                code="rest_failing",
                status=Status.UNHEALTHY if failing_for > th.rest_grace else Status.DEGRADED,
                detail=f"Discord REST API failing for {failing_for:.0f} s",
            )
        )
    if inputs.voice_healthy < inputs.voice_total:
        reasons.append(
            Reason(
                code="voice_unhealthy",
                status=Status.DEGRADED,
                detail=f"{inputs.voice_total - inputs.voice_healthy} of {inputs.voice_total} "
                "voice connections are not healthy",
            )
        )
    age = inputs.extractor_age_days
    if age is not None and age > th.extractor_stale_days:
        reasons.append(
            Reason(
                code="extractor_stale",
                status=Status.DEGRADED,
                detail=f"yt-dlp {inputs.extractor_version} is {age} days old; YouTube breaks old "
                "versions: run `make update-extractor` and restart",
            )
        )
    connected = {s.shard_id for s in inputs.shards if s.status is ShardStatus.CONNECTED}
    ready = inputs.expected_shards > 0 and len(connected) >= inputs.expected_shards
    if not ready and not any(r.shard_id is not None for r in reasons):
        # Nothing wrong with a known shard, yet not every expected one is up: the shard count
        # is not known yet, or a shard has not started.  Never "healthy" before "ready".
        reasons.append(
            Reason(
                code="starting",
                status=Status.DEGRADED,
                detail="starting: the shard count is not known yet"
                if inputs.expected_shards == 0
                else f"{len(connected)} of {inputs.expected_shards} shards connected",
            )
        )
    if any(r.status is Status.UNHEALTHY for r in reasons):
        status = Status.UNHEALTHY
    elif reasons:
        status = Status.DEGRADED
    else:
        status = Status.HEALTHY
    last = inputs.rest_last_success
    return HealthReport(
        status=status,
        ready=ready,
        reasons=tuple(reasons),
        rest_last_success_age=None if last is None else max(0.0, now - last),
        extractor_version=inputs.extractor_version,
        extractor_age_days=inputs.extractor_age_days,
    )


class HealthState:
    """The mutable record the running bot keeps up to date (see the module docstring)."""

    def __init__(self, *, expected_shards: int = 0) -> None:
        self._shards: dict[int, ShardHealth] = {}
        self._expected = expected_shards
        self._rest_last_success: float | None = None
        self._rest_failing_since: float | None = None
        self._voice_healthy = 0
        self._voice_total = 0
        self._extractor_version = ""
        self._extractor_released: datetime.date | None = None

    def extractor(self, version: str, released: datetime.date | None) -> None:
        """Writer: the composition root, at start (yt-dlp's version and release date)."""
        self._extractor_version = version
        self._extractor_released = released

    def set_expected_shards(self, n: int) -> None:
        """Writer: the shard supervisor, once it knows which shards this process runs."""
        self._expected = n

    def shard_status(self, shard_id: int, status: ShardStatus, now: float) -> None:
        """Writer: shard ``shard_id``'s task, on every state change."""
        old = self._shards.get(shard_id)
        if old is not None and old.status is status:
            return
        if old is None:
            self._shards[shard_id] = ShardHealth(shard_id=shard_id, status=status, since=now)
        else:
            # A new connection starts a new ACK clock; latency is kept until the next ACK.
            self._shards[shard_id] = attrs.evolve(old, status=status, since=now, last_ack=None)

    def heartbeat_interval(self, shard_id: int, seconds: float, now: float) -> None:
        """Writer: the shard task, on HELLO."""
        old = self._shards.get(shard_id) or ShardHealth(
            shard_id=shard_id, status=ShardStatus.CONNECTING, since=now
        )
        self._shards[shard_id] = attrs.evolve(old, heartbeat_interval=seconds)

    def heartbeat_ack(self, shard_id: int, now: float, latency: float) -> None:
        """Writer: the shard task, on every heartbeat ACK (op 11)."""
        old = self._shards.get(shard_id) or ShardHealth(
            shard_id=shard_id, status=ShardStatus.CONNECTED, since=now
        )
        self._shards[shard_id] = attrs.evolve(old, last_ack=now, latency=latency, zombie_since=None)

    def shard_zombie(self, shard_id: int, now: float) -> None:
        """Writer: the shard task, when it drops a connection that stopped ACKing heartbeats.

        Unhealthy from now until the next ACK, whatever connection it comes on."""
        old = self._shards.get(shard_id) or ShardHealth(
            shard_id=shard_id, status=ShardStatus.RECONNECTING, since=now
        )
        if old.zombie_since is None:
            self._shards[shard_id] = attrs.evolve(old, zombie_since=now)

    def forget_shard(self, shard_id: int) -> None:
        """Stop tracking shard ``shard_id`` (it no longer runs in this process)."""
        self._shards.pop(shard_id, None)

    def rest_ok(self, now: float) -> None:
        """Writer: the REST client, after any response from Discord (even 4xx: it is reachable)."""
        self._rest_last_success = now
        self._rest_failing_since = None

    def rest_failed(self, now: float) -> None:
        """Writer: the REST client, on a transport error, a timeout or a 5xx."""
        if self._rest_failing_since is None:
            self._rest_failing_since = now

    def voice(self, *, healthy: int, total: int) -> None:
        """Writer: the guild supervisor (or the app, summing guild actors' reports)."""
        self._voice_healthy = healthy
        self._voice_total = total

    def health_inputs(self) -> HealthInputs:
        """The facts gathered so far, as :class:`HealthInputs`."""
        return HealthInputs(
            shards=tuple(self._shards.values()),
            expected_shards=self._expected,
            rest_last_success=self._rest_last_success,
            rest_failing_since=self._rest_failing_since,
            voice_healthy=self._voice_healthy,
            voice_total=self._voice_total,
            extractor_version=self._extractor_version,
            extractor_age_days=None
            if self._extractor_released is None
            else (datetime.datetime.now(datetime.UTC).date() - self._extractor_released).days,
        )
