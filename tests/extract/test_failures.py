"""Failures sites raise today, classified: the member's text, the operator's warning, the label.

yt-dlp runs for real in the extractor's worker processes; ``FakeTubeIE`` (tests/extract/sites.py)
reads a YouTube-shaped player response from the local media server and fails through the same
yt-dlp calls (``raise_no_formats``, ``raise_geo_restricted``, ``report_warning``) and with the same
messages as yt-dlp's YouTube extractor.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from actors import events as ev
from actors import extractor
from actors.extractor.messages import SingleResult
from actors.guild.reasons import classify_playback, failure_text, should_refresh
from musicbot.audio.errors import SourceOpenError
from musicbot.audio.source import FfmpegOpener, SourceRequest
from musicbot.emulator.media import MediaServer
from musicbot.extract.errors import OPERATOR_FIX, ExtractionError, Reason
from musicbot.extract.probe import ffmpeg_path
from musicbot.models.track import Track
from musicbot.ops.metrics import Metrics
from musicbot.ops.wiring import record_event
from tests.actors.conftest import local_config
from tests.extract.sites import FakeTubeIE

TIMEOUT = 120

PO_WARNING = (
    "web client https formats require a GVS PO Token which was not provided. They will be "
    "skipped as they may yield HTTP Error 403. You can manually pass a GVS PO Token for this "
    'client with --extractor-args "youtube:po_token=web.gvs+XXX". For more information, refer '
    "to  https://github.com/yt-dlp/yt-dlp/wiki/PO-Token-Guide"
)
N_WARNING = (
    "n challenge solving failed: Some formats may be missing. Ensure you have a supported "
    "JavaScript runtime and challenge solver script distribution installed."
)

# video id → (player response, expected reason)
CASES: dict[str, tuple[dict[str, Any], Reason]] = {
    "botcheck001": (
        {"playabilityStatus": {"status": "LOGIN_REQUIRED",
                               "reason": "Sign in to confirm you’re not a bot"}},
        Reason.BOT_CHECK,
    ),
    "agegate0001": (
        {"playabilityStatus": {"status": "LOGIN_REQUIRED", "reason": "Sign in to confirm your age",
                               "subreason": "This video may be inappropriate for some users."}},
        Reason.AGE_RESTRICTED,
    ),
    "region00001": (
        {"playabilityStatus": {"status": "UNPLAYABLE", "reason": "Video unavailable",
                               "subreason": "The uploader has not made this video available in "
                                            "your country"}},
        Reason.GEO_BLOCKED,
    ),
    "members0001": (
        {"playabilityStatus": {"status": "UNPLAYABLE",
                               "reason": "Join this channel to get access to members-only content "
                                         "like this video, and other exclusive perks."}},
        Reason.MEMBERS_ONLY,
    ),
    "potoken0001": (
        {"playabilityStatus": {"status": "OK"}, "warnings": [PO_WARNING],
         "streamingData": {"formats": []}},
        Reason.PO_TOKEN,
    ),
    "nchallenge1": (
        {"playabilityStatus": {"status": "OK"}, "warnings": [N_WARNING],
         "streamingData": {"formats": []}},
        Reason.CHALLENGE,
    ),
}  # fmt: skip


def serve_player(media: MediaServer, video_id: str, player: dict[str, Any]) -> str:
    media.add(f"/youtubei/{video_id}.json", json.dumps(player).encode(), "application/json")
    return media.url(f"/watch?v={video_id}")


def playable(path: str) -> dict[str, Any]:
    fmt = {"format_id": "251", "url": path, "ext": "webm", "acodec": "opus", "vcodec": "none"}
    return {"playabilityStatus": {"status": "OK"}, "title": "Fake tune", "lengthSeconds": 3,
            "streamingData": {"formats": [fmt]}}  # fmt: skip


def label_after_failure(error: BaseException) -> dict[str, float]:
    """The ``reason`` labels of musicbot_tracks_failed_total after the guild reports it."""
    metrics = Metrics()
    track = Track(title="t", webpage_url="https://example.com/")
    record_event(metrics, ev.TrackFailed(guild_id=1, track=track, error=repr(error)))
    out = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("musicbot_tracks_failed_total{"):
            out[line.split('reason="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return out


async def test_each_site_failure_is_classified_told_and_labelled(media: MediaServer) -> None:
    urls = {vid: serve_player(media, vid, player) for vid, (player, _) in CASES.items()}
    errors: dict[str, ExtractionError] = {}
    with trio.fail_after(TIMEOUT), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=local_config(), extra_extractors=[FakeTubeIE])
            for vid, url in urls.items():
                with pytest.raises(ExtractionError) as info:
                    await x.extract(url)
                errors[vid] = info.value
            # The same failure again: the member is told again, the operator is not.
            with pytest.raises(ExtractionError):
                await x.extract(urls["botcheck001"] + "&t=1")
            nursery.cancel_scope.cancel()
    blocked = [e for e in logs if e["event"] == "extraction_blocked"]
    failed = [e for e in logs if e["event"] == "extract_failed"]
    for vid, (_, reason) in CASES.items():
        error = errors[vid]
        assert error.reason is reason, (vid, error)
        assert failure_text(error, "en") == error.text("en") != error.text("vi")
        assert "extract." not in error.text("vi")  # a real translation, not the key
        told = [e for e in blocked if e["reason"] == reason.value]
        assert len(told) == 1 and told[0]["fix"] == OPERATOR_FIX[reason]
        assert told[0]["log_level"] == "warning"
        assert any(e["reason"] == reason.value for e in failed)
        assert label_after_failure(error) == {reason.value: 1.0}
    assert sum(e["reason"] == "bot_check" for e in failed) == 2
    assert "cookies_file" in OPERATOR_FIX[Reason.BOT_CHECK]
    assert "youtube-pot" in OPERATOR_FIX[Reason.PO_TOKEN]
    assert "proxy" in OPERATOR_FIX[Reason.GEO_BLOCKED]
    assert "make update-extractor" in OPERATOR_FIX[Reason.CHALLENGE]


async def test_a_refused_stream_is_forbidden_or_expired_and_refreshed_once(
    media: MediaServer,
) -> None:
    url = serve_player(media, "stream00001", playable("/media/a440.webm"))
    opener = FfmpegOpener(ffmpeg=ffmpeg_path("bundled"), stall_timeout=5.0)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=local_config(), extra_extractors=[FakeTubeIE])
            result = await x.extract(url)
            assert isinstance(result, SingleResult)
            track = result.track
            assert track.stream_url == media.url("/media/a440.webm") and track.codec == "opus"
            media.forbid("/media/a440.webm")  # the stream host refuses the URL
            with pytest.raises(SourceOpenError) as refused:
                async with opener(SourceRequest(track=track)) as source:
                    await source.receive_frames()
            # The site hands out a new URL; refresh skips the cache that still holds the old.
            serve_player(media, "stream00001", playable("/media/e330.ogg"))
            fresh = await x.refresh(track)
            cached = await x.resolve(track)
            nursery.cancel_scope.cancel()
    at_start = classify_playback(refused.value, position=0.0)
    mid_song = classify_playback(refused.value, position=42.0)
    assert isinstance(at_start, ExtractionError) and at_start.reason is Reason.STREAM_FORBIDDEN
    assert isinstance(mid_song, ExtractionError) and mid_song.reason is Reason.STREAM_EXPIRED
    assert label_after_failure(at_start) == {"stream_forbidden": 1.0}
    assert label_after_failure(mid_song) == {"stream_expired": 1.0}
    assert "từ chối" in failure_text(at_start, "vi")
    assert should_refresh(refused.value, refreshed_already=False)
    assert not should_refresh(refused.value, refreshed_already=True)  # once
    assert not should_refresh(SourceOpenError(reason="network"), refreshed_already=False)
    assert fresh.stream_url == media.url("/media/e330.ogg")
    assert cached.stream_url == fresh.stream_url  # the refresh updated the cache
