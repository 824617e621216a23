"""The wiring between the running bot and Metrics / HealthState, piece by piece."""

from __future__ import annotations

import enum
from typing import Any

import attrs
import pytest
import trio

from actors import events as ev
from actors.extractor.messages import Extract
from musicbot.audio.errors import SourceOpenError
from musicbot.audio.player import PlayerStats
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.gateway.state import ShardState
from musicbot.models.track import Track
from musicbot.ops.audio import AudioBoard
from musicbot.ops.health import HealthState, ShardStatus, Status, evaluate
from musicbot.ops.metrics import Metrics
from musicbot.ops.wiring import (
    GatewayObserver,
    Recorder,
    TimedExtractor,
    failure_reason,
    record_event,
    rest_observer,
    shard_status,
)
from musicbot.voice.events import VoiceStats

GUILD = 42
TRACK = Track(title="t", webpage_url="https://example.org/t")


def metrics() -> Metrics:
    return Metrics(process_collector=False)


class VState(enum.Enum):
    CONNECTED = "connected"
    RESUMING = "resuming"
    JOINING = "joining"
    DISCONNECTED = "disconnected"


@attrs.define
class FakeVoice:
    stats: VoiceStats = attrs.Factory(VoiceStats)
    state: VState = VState.CONNECTED


@attrs.define
class FakeShard:
    shard_id: int
    state: ShardState


@attrs.frozen
class CacheStats:
    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int


def test_failure_reason_is_a_short_fixed_label() -> None:
    assert failure_reason(repr(ExtractionError(Reason.PRIVATE, "secret detail"))) == "private"
    assert failure_reason(repr(SourceOpenError("http 403", 1))) == "source_open_error"
    assert failure_reason("") == "unknown"
    assert len(failure_reason("A" * 200 + "Error()")) <= 40


def test_bus_events_move_the_counters() -> None:
    m = metrics()
    record_event(m, ev.TrackStarted(guild_id=GUILD, track=TRACK))
    record_event(m, ev.TrackFinished(guild_id=GUILD, track=TRACK))
    error = repr(ExtractionError(Reason.REMOVED))
    record_event(m, ev.TrackFailed(guild_id=GUILD, track=TRACK, error=error))
    record_event(m, ev.VoiceConnected(guild_id=GUILD, channel_id=1))
    snap = m.snapshot()
    assert (snap.tracks_started, snap.tracks_finished, snap.tracks_failed) == (1, 1, 1)
    assert snap.tracks_failed_by_reason == {"removed": 1}
    assert snap.voice_connections == 1
    record_event(m, ev.VoiceDisconnected(guild_id=GUILD, channel_id=1))
    assert m.snapshot().voice_connections == 0
    assert m.guild_snapshot(GUILD).tracks_started == 1


def test_zombie_reconnect_is_unhealthy_until_the_next_ack() -> None:
    m, health = metrics(), HealthState(expected_shards=1)
    now = [100.0]
    gw = GatewayObserver(m, health, clock=lambda: now[0])
    health.shard_status(0, ShardStatus.CONNECTED, now[0])
    gw.gateway_latency(0, 0.04)
    assert evaluate(health.health_inputs(), now[0]).status is Status.HEALTHY

    now[0] += 10
    gw.gateway_reconnect(0, "zombie")
    report = evaluate(health.health_inputs(), now[0])
    assert report.status is Status.UNHEALTHY
    assert {r.code for r in report.reasons} == {"shard_no_ack", "shard_reconnecting"}

    gw.gateway_resumed(0, "zombie")  # resuming alone does not help: still no ACK
    assert evaluate(health.health_inputs(), now[0] + 1).status is Status.UNHEALTHY
    now[0] += 2
    gw.gateway_latency(0, 0.05)
    assert evaluate(health.health_inputs(), now[0]).status is Status.HEALTHY
    snap = m.snapshot()
    assert (snap.gateway_reconnects, snap.gateway_resumes) == (1, 1)
    assert snap.gateway_latency_seconds == {0: 0.05}


def test_a_network_reconnect_is_only_degraded() -> None:
    health = HealthState(expected_shards=1)
    gw = GatewayObserver(metrics(), health, clock=lambda: 5.0)
    health.shard_status(0, ShardStatus.CONNECTED, 0.0)
    gw.gateway_reconnect(0, "network")
    assert evaluate(health.health_inputs(), 5.0).status is Status.DEGRADED


def test_rest_observer_counts_routes_and_tracks_reachability() -> None:
    m, health = metrics(), HealthState()
    on_response = rest_observer(m, health, clock=lambda: 7.0)
    on_response("GET /gateway/bot", 200, "")
    assert health.health_inputs().rest_last_success == 7.0
    on_response("POST /channels/{channel_id}/messages", 429, "shared")
    on_response("GET /gateway/bot", 503, "")
    assert health.health_inputs().rest_failing_since == 7.0
    on_response("GET /gateway/bot", None, "")
    snap = m.snapshot()
    assert (snap.rest_requests, snap.rest_rate_limited) == (4, 1)
    on_response("GET /gateway/bot", 404, "")  # a 4xx is an answer: Discord is reachable
    assert health.health_inputs().rest_failing_since is None


def test_audio_board_books_growth_once_and_derives_playing() -> None:
    m = metrics()
    board = AudioBoard(m)
    voice, player = FakeVoice(), PlayerStats()
    board.attach(GUILD, voice, player)
    voice.stats.frames_sent, player.frames = 50, 48
    player.underruns = 2
    sample = board.sample()
    assert sample.playing == {GUILD} and sample.voice_held == {GUILD}
    assert sample.voice_healthy == 1
    g = m.guild_snapshot(GUILD)
    assert (g.frames_sent, g.frames_late, g.playing, g.voice_connected) == (50, 2, True, True)

    # Nothing sent since: not playing; a resume is counted once; resuming is held, not healthy.
    voice.stats.resumes = 1
    voice.state = VState.RESUMING
    sample = board.sample()
    assert sample.playing == frozenset() and sample.voice_healthy == 0
    assert m.snapshot().voice_reconnects == 1
    board.sample()
    assert m.snapshot().voice_reconnects == 1

    # A new connection after a rejoin: the old one's last frames are booked, then the new one's.
    voice.stats.frames_sent = 60
    board.attach(GUILD, FakeVoice(stats=VoiceStats(frames_sent=5)), PlayerStats())
    assert m.guild_snapshot(GUILD).frames_sent == 65
    board.detach(GUILD)
    assert GUILD not in board
    assert m.snapshot().voice_connections == 0


async def test_recorder_samples_membership_cache_and_shards() -> None:
    with trio.fail_after(5):  # synchronous, but sample_shards reads trio's clock
        m, health = metrics(), HealthState()
        rec = Recorder(m, health, AudioBoard(m))
        rec.sample_members([1, 2], [1, 2, 3])
        rec.sample_members([2], [1, 2, 3])
        snap = m.snapshot()
        assert (snap.guild_actors, snap.guilds) == (1, 3)

        rec.sample_cache(CacheStats(hits=3, misses=2, evictions=1, expirations=0, size=4))
        rec.sample_cache(CacheStats(hits=5, misses=2, evictions=1, expirations=2, size=3))
        snap = m.snapshot()
        assert (snap.cache_hits, snap.cache_misses, snap.cache_evictions) == (5, 2, 3)

        rec.sample_shards([FakeShard(0, ShardState.IDENTIFYING)])  # type: ignore[list-item]
        assert health.health_inputs().shards[0].status is ShardStatus.CONNECTING
        rec.sample_shards([FakeShard(0, ShardState.READY)])  # type: ignore[list-item]
        assert health.health_inputs().expected_shards == 1
        assert evaluate(health.health_inputs(), trio.current_time()).ready
        rec.sample_shards([FakeShard(0, ShardState.BACKING_OFF)])  # type: ignore[list-item]
        assert health.health_inputs().shards[0].status is ShardStatus.RECONNECTING


@pytest.mark.parametrize(
    ("state", "was_ready", "status"),
    [
        (ShardState.READY, False, ShardStatus.CONNECTED),
        (ShardState.CONNECTING, False, ShardStatus.CONNECTING),
        (ShardState.RESUMING, True, ShardStatus.RECONNECTING),
        (ShardState.STOPPED, True, ShardStatus.DISCONNECTED),
    ],
)
def test_shard_status_mapping(state: ShardState, was_ready: bool, status: ShardStatus) -> None:
    assert shard_status(state, was_ready) is status


async def test_timed_extractor_observes_time_and_outcome(autojump_clock: Any) -> None:
    send, receive = trio.open_memory_channel[Any](4)
    seen: list[tuple[float, bool]] = []
    handle = TimedExtractor(send, 30.0, lambda s, ok: seen.append((s, ok)))

    async def extractor() -> None:
        async with receive:
            async for msg in receive:
                assert isinstance(msg, Extract)
                await trio.sleep(2.0)
                answer = ExtractionError(Reason.REMOVED) if msg.query == "bad" else "ok"
                msg.reply.send_nowait(answer)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(extractor)
            assert await handle.extract("good") == "ok"
            with pytest.raises(ExtractionError):
                await handle.extract("bad")
            send.close()
    assert seen == [(pytest.approx(2.0), True), (pytest.approx(2.0), False)]
