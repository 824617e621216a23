"""Metrics: the exposition parses as Prometheus text and every recorder moves its series."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from musicbot.ops.metrics import Metrics


def samples(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(m.registry).decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return samples(m).get((name, frozenset(labels.items())))


def test_exposition_parses_and_names_every_family() -> None:
    m = Metrics(version="1.2.3")
    text = generate_latest(m.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "musicbot_guilds",
        "musicbot_guild_actors",
        "musicbot_voice_connections",
        "musicbot_players_playing",
        "musicbot_uptime_seconds",
        "musicbot_tracks_started",
        "musicbot_tracks_finished",
        "musicbot_extraction_seconds",
        "musicbot_cache_hits",
        "musicbot_cache_misses",
        "musicbot_audio_frames_sent",
        "musicbot_audio_frames_late",
        "process_cpu_seconds",
        "process_resident_memory_bytes",
    ):
        assert name in families, name
    assert families["musicbot_tracks_started"].type == "counter"
    assert families["musicbot_extraction_seconds"].type == "histogram"
    assert value(m, "musicbot_info", version="1.2.3") == 1.0


def test_counters_move_after_recording() -> None:
    m = Metrics()
    m.track_started(10)
    m.track_started(10)
    m.track_finished(10)
    m.track_failed(11, "extract_error")
    m.observe_extraction(0.3)
    m.observe_extraction(4.0, ok=False)
    m.cache_hit()
    m.cache_miss()
    m.cache_evicted(3, reason="expired")
    m.cache_entries(42)
    m.gateway_latency(0, 0.045)
    m.gateway_latency(1, 0.6)
    m.gateway_reconnect(1, "zombie")
    m.gateway_resumed(1, "zombie")
    m.gateway_identify(0)
    m.voice_reconnect("4015")
    m.rest_request("POST /channels/{channel_id}/messages", 200)
    m.rest_request("POST /channels/{channel_id}/messages", 429)
    m.rest_rate_limited("POST /channels/{channel_id}/messages", "user")
    m.event_dropped("router", 2)
    m.audio_frames_sent(10, 50)
    m.audio_frames_late(10)
    m.supervisor_restart("guilds")
    m.heap_collected("memory", 0.25)
    m.heap_collected("memory", 0.5)

    assert value(m, "musicbot_tracks_started_total") == 2
    assert value(m, "musicbot_tracks_finished_total") == 1
    assert value(m, "musicbot_tracks_failed_total", reason="extract_error") == 1
    assert value(m, "musicbot_extraction_seconds_count", outcome="ok") == 1
    assert value(m, "musicbot_extraction_seconds_bucket", outcome="ok", le="0.5") == 1
    assert value(m, "musicbot_extraction_seconds_bucket", outcome="ok", le="0.25") == 0
    assert value(m, "musicbot_extraction_seconds_count", outcome="error") == 1
    assert value(m, "musicbot_cache_evictions_total", reason="expired") == 3
    assert value(m, "musicbot_cache_entries") == 42
    assert value(m, "musicbot_gateway_latency_seconds", shard="1") == 0.6
    assert value(m, "musicbot_gateway_reconnects_total", shard="1", cause="zombie") == 1
    assert value(m, "musicbot_gateway_resumes_total", shard="1", cause="zombie") == 1
    assert value(m, "musicbot_gateway_identifies_total", shard="0") == 1
    assert value(m, "musicbot_voice_reconnects_total", cause="4015") == 1
    route = "POST /channels/{channel_id}/messages"
    assert value(m, "musicbot_rest_requests_total", route=route, status="429") == 1
    assert value(m, "musicbot_rest_rate_limited_total", route=route, scope="user") == 1
    assert value(m, "musicbot_events_dropped_total", subscriber="router") == 2
    assert value(m, "musicbot_audio_frames_sent_total") == 50
    assert value(m, "musicbot_audio_frames_late_total") == 1
    assert value(m, "musicbot_supervisor_restarts_total", supervisor="guilds") == 1
    assert value(m, "musicbot_heap_full_collections_total", reason="memory") == 2
    assert value(m, "musicbot_heap_full_collection_seconds_total", reason="memory") == 0.75

    snap = m.snapshot()
    assert (snap.tracks_started, snap.tracks_finished, snap.tracks_failed) == (2, 1, 1)
    assert snap.tracks_failed_by_reason == {"extract_error": 1}
    assert snap.extractions == 2
    assert snap.extraction_seconds_avg is not None
    assert abs(snap.extraction_seconds_avg - 2.15) < 1e-9
    assert snap.cache_hit_ratio == 0.5
    assert snap.gateway_latency_seconds == {0: 0.045, 1: 0.6}
    assert (snap.rest_requests, snap.rest_rate_limited) == (2, 1)
    assert (snap.frames_sent, snap.frames_late) == (50, 1)
    assert snap.cpu_seconds is not None and snap.cpu_seconds > 0
    assert snap.resident_memory_bytes is not None and snap.resident_memory_bytes > 1e6


def test_membership_gauges_cannot_drift() -> None:
    m = Metrics(process_collector=False)
    for g in (1, 2, 3):
        m.guild_joined(g)
        m.guild_actor_up(g)
    m.voice_connected(1)
    m.voice_connected(1)  # reported twice: still one connection
    m.voice_connected(2)
    m.player_playing(1, True)
    m.player_playing(2, True)
    m.voice_disconnected(3)  # never connected: no effect
    m.player_playing(2, False)
    assert value(m, "musicbot_guilds") == 3
    assert value(m, "musicbot_voice_connections") == 2
    assert value(m, "musicbot_players_playing") == 1
    m.guild_actor_down(1)  # a crashed actor's finally clause
    snap = m.snapshot()
    assert (snap.guild_actors, snap.voice_connections, snap.players_playing) == (2, 1, 0)
    assert "process_cpu_seconds_total" not in {k[0] for k in samples(m)}


def test_guild_snapshot_is_per_guild() -> None:
    m = Metrics(process_collector=False)
    m.guild_actor_up(7)
    m.voice_connected(7)
    m.player_playing(7, True)
    m.track_started(7)
    m.track_started(8)
    m.track_failed(7, "ffmpeg_error")
    m.audio_frames_sent(7, 100)
    g7 = m.guild_snapshot(7)
    assert (g7.actor_running, g7.voice_connected, g7.playing) == (True, True, True)
    assert (g7.tracks_started, g7.tracks_failed, g7.frames_sent) == (1, 1, 100)
    assert m.guild_snapshot(8).tracks_started == 1
    assert m.guild_snapshot(8).voice_connected is False
    m.guild_left(7)
    assert m.guild_snapshot(7).tracks_started == 0
    assert set(m.known_guilds()) == {8}


def test_two_instances_do_not_share_figures() -> None:
    a, b = Metrics(process_collector=False), Metrics(process_collector=False)
    a.track_started(1)
    assert value(a, "musicbot_tracks_started_total") == 1
    assert value(b, "musicbot_tracks_started_total") == 0


def test_uptime_follows_the_clock() -> None:
    now = [100.0]
    m = Metrics(clock=lambda: now[0], process_collector=False)
    now[0] = 160.5
    assert value(m, "musicbot_uptime_seconds") == 60.5
    assert m.snapshot().uptime_seconds == 60.5
