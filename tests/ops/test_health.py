"""The health model as pure transitions: inputs in, status and reasons out."""

from __future__ import annotations

from musicbot.ops.health import (
    HealthInputs,
    HealthState,
    ShardHealth,
    ShardStatus,
    Status,
    Thresholds,
    evaluate,
)

INTERVAL = 41.25  # seconds, Discord's usual heartbeat_interval


def codes(state: HealthState, now: float) -> tuple[Status, set[str], bool]:
    report = evaluate(state.health_inputs(), now)
    return report.status, {r.code for r in report.reasons}, report.ready


def connected_state(now: float, shards: int = 2) -> HealthState:
    state = HealthState(expected_shards=shards)
    for sid in range(shards):
        state.shard_status(sid, ShardStatus.CONNECTING, now)
        state.heartbeat_interval(sid, INTERVAL, now)
        state.shard_status(sid, ShardStatus.CONNECTED, now)
        state.heartbeat_ack(sid, now, 0.05)
    state.rest_ok(now)
    return state


def test_healthy_degraded_unhealthy_healthy() -> None:
    t = 1000.0
    state = connected_state(t)
    assert codes(state, t) == (Status.HEALTHY, set(), True)

    # Latency 600 ms on shard 1 → degraded, still ready.
    t += INTERVAL
    state.heartbeat_ack(0, t, 0.05)
    state.heartbeat_ack(1, t, 0.6)
    status, why, ready = codes(state, t)
    assert (status, why, ready) == (Status.DEGRADED, {"shard_latency"}, True)
    report = evaluate(state.health_inputs(), t)
    assert report.reasons[0].shard_id == 1 and "600 ms" in report.reasons[0].detail

    # Shard 1 stops receiving ACKs: after more than two intervals it is unhealthy.
    for _ in range(2):
        t += INTERVAL
        state.heartbeat_ack(0, t, 0.05)
    assert codes(state, t)[0] is Status.DEGRADED  # exactly 2 intervals: not yet
    t += 1.0
    status, why, _ = codes(state, t)
    assert status is Status.UNHEALTHY and "shard_no_ack" in why

    # The shard notices, reconnects (degraded while it resumes), then ACKs arrive again.
    state.shard_status(1, ShardStatus.RECONNECTING, t)
    status, why, ready = codes(state, t + 2)
    assert (status, why, ready) == (Status.DEGRADED, {"shard_reconnecting"}, False)
    state.shard_status(1, ShardStatus.CONNECTED, t + 3)
    state.heartbeat_ack(1, t + 4, 0.04)
    state.heartbeat_ack(0, t + 4, 0.05)
    assert codes(state, t + 5) == (Status.HEALTHY, set(), True)


def test_reconnecting_too_long_is_unhealthy_and_fatal_stop_is_at_once() -> None:
    t = 0.0
    state = connected_state(t)
    state.shard_status(0, ShardStatus.RECONNECTING, t)
    assert codes(state, t + 59)[0] is Status.DEGRADED
    assert codes(state, t + 61)[0] is Status.UNHEALTHY
    state.shard_status(1, ShardStatus.DISCONNECTED, t + 61)
    status, why, ready = codes(state, t + 61)
    assert status is Status.UNHEALTHY and why == {"shard_reconnecting", "shard_disconnected"}
    assert not ready


def test_connected_without_any_ack_counts_from_connect() -> None:
    state = HealthState(expected_shards=1)
    state.shard_status(0, ShardStatus.CONNECTING, 0.0)
    state.heartbeat_interval(0, 10.0, 0.0)
    state.shard_status(0, ShardStatus.CONNECTED, 5.0)
    assert codes(state, 24.0)[0] is Status.HEALTHY
    assert codes(state, 26.0)[1] == {"shard_no_ack"}


def test_stuck_connecting_and_readiness_needs_every_shard() -> None:
    state = HealthState()
    assert codes(state, 0.0) == (Status.DEGRADED, {"starting"}, False)  # shard count unknown
    state.set_expected_shards(2)
    state.shard_status(0, ShardStatus.CONNECTED, 0.0)
    assert codes(state, 0.5) == (Status.DEGRADED, {"starting"}, False)  # shard 1 not begun
    state.shard_status(1, ShardStatus.CONNECTING, 0.0)
    assert codes(state, 1.0) == (Status.DEGRADED, {"shard_connecting"}, False)
    assert codes(state, 61.0)[:2] == (Status.UNHEALTHY, {"shard_connecting"})
    state.shard_status(1, ShardStatus.CONNECTED, 61.0)
    assert codes(state, 62.0) == (Status.HEALTHY, set(), True)


def test_rest_failing_degrades_then_turns_unhealthy_and_recovers() -> None:
    state = connected_state(0.0, shards=1)
    state.rest_failed(10.0)
    state.rest_failed(50.0)  # the first failure starts the clock
    assert codes(state, 60.0)[:2] == (Status.DEGRADED, {"rest_failing"})
    state.heartbeat_ack(0, 130.0, 0.05)  # the gateway is fine meanwhile
    assert codes(state, 131.0)[:2] == (Status.UNHEALTHY, {"rest_failing"})
    assert evaluate(state.health_inputs(), 131.0).rest_last_success_age == 131.0
    state.rest_ok(131.0)
    assert codes(state, 131.0)[:2] == (Status.HEALTHY, set())
    assert evaluate(state.health_inputs(), 133.5).to_json()["rest_last_success_age"] == 2.5


def test_unhealthy_voice_connections_degrade() -> None:
    state = connected_state(0.0, shards=1)
    state.voice(healthy=3, total=3)
    assert codes(state, 1.0)[0] is Status.HEALTHY
    state.voice(healthy=2, total=3)
    report = evaluate(state.health_inputs(), 1.0)
    assert report.status is Status.DEGRADED
    assert report.reasons[0].detail.startswith("1 of 3")


def test_thresholds_and_json_shape() -> None:
    inputs = HealthInputs(
        shards=(ShardHealth(shard_id=3, status=ShardStatus.CONNECTED, since=0.0, latency=0.3),),
        expected_shards=1,
    )
    assert evaluate(inputs, 1.0).status is Status.HEALTHY
    strict = evaluate(inputs, 1.0, Thresholds(degraded_latency=0.2))
    assert strict.to_json() == {
        "status": "degraded",
        "ready": True,
        "rest_last_success_age": None,  # REST never answered yet
        "reasons": [
            {
                "code": "shard_latency",
                "status": "degraded",
                "detail": "shard 3: gateway latency 300 ms",
                "shard_id": 3,
            }
        ],
    }
