"""The yt-dlp protocol layer: error classification, options, info dicts → Tracks."""

from __future__ import annotations

import json

import pytest
from yt_dlp.networking.common import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from musicbot import config
from musicbot.extract.errors import ExtractionError, Reason, classify
from musicbot.extract.info import (
    codec_name,
    parse_expire,
    playlist_from_info,
    track_from_entry,
    track_from_info,
)
from musicbot.extract.options import Mode, build_options, search_query
from musicbot.extract.probe import parse_audio_codec, parse_duration
from musicbot.extract.runtime import bundled_deno
from musicbot.i18n import EN, VI
from musicbot.spotify import NoMatch  # registers the texts of the Spotify reasons


def wrapped(inner: BaseException, msg: str = "") -> DownloadError:
    """What YoutubeDL.extract_info raises: DownloadError(exc_info of the real error)."""
    return DownloadError("ERROR: " + (msg or str(inner)), exc_info=(type(inner), inner, None))


def http_error(status: int) -> HTTPError:
    import io

    response = Response(io.BytesIO(b""), "https://example.com/x", {}, status=status)
    return HTTPError(response)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (wrapped(UnsupportedError("https://example.com/x")), Reason.UNSUPPORTED),
        (
            wrapped(GeoRestrictedError("This video is not available from your location")),
            Reason.GEO_BLOCKED,
        ),
        (
            wrapped(ExtractorError("Unable to download webpage", cause=http_error(404))),
            Reason.REMOVED,
        ),
        (
            wrapped(ExtractorError("Unable to download webpage", cause=http_error(403))),
            Reason.PRIVATE,
        ),
        (
            wrapped(
                ExtractorError(
                    "[youtube] abc: Private video. Sign in if you've been granted access"
                )
            ),
            Reason.PRIVATE,
        ),
        (
            wrapped(
                ExtractorError(
                    "[youtube] abc: Video unavailable. This video has been removed by the uploader"
                )
            ),
            Reason.REMOVED,
        ),
        (
            wrapped(
                ExtractorError(
                    "[youtube] abc: Sign in to confirm your age. "
                    "This video may be inappropriate for some users."
                )
            ),
            Reason.AGE_RESTRICTED,
        ),
        (
            wrapped(
                ExtractorError("[youtube] abc: Sign in to confirm you’re not a bot. Use --cookies")
            ),
            Reason.BOT_CHECK,
        ),
        (
            wrapped(
                ExtractorError("The uploader has not made this video available in your country")
            ),
            Reason.GEO_BLOCKED,
        ),
        (
            wrapped(ExtractorError("Unable to download webpage", cause=TransportError("boom"))),
            Reason.NETWORK,
        ),
        (wrapped(ExtractorError("read operation timed out")), Reason.NETWORK),
        (ValueError("something odd"), Reason.UNKNOWN),
    ],
)
def test_classification(exc: BaseException, reason: Reason) -> None:
    error = classify(exc)
    assert error.reason is reason
    assert not error.detail.startswith("ERROR:")


def test_every_reason_has_english_and_vietnamese_text() -> None:
    for reason in Reason:
        assert EN[reason.key] and VI[reason.key] and EN[reason.key] != VI[reason.key]
    error = ExtractionError(Reason.GEO_BLOCKED, "detail for logs")
    assert error.text("vi") == VI["extract.geo_blocked"]
    assert "detail for logs" not in error.text("en")
    no_match = NoMatch(Reason.NO_MATCH, "detail for logs", where="YouTube")
    assert no_match.text("vi").endswith("YouTube.") and "detail" not in no_match.text("en")


def test_transient_failures_are_not_remembered() -> None:
    assert {r for r in Reason if r.transient} == {
        Reason.NETWORK,
        Reason.TIMEOUT,
        Reason.UNKNOWN,
        Reason.WORKER,  # a crashed worker is replaced: try again
        Reason.BOT_CHECK,  # goes away with cookies, a PO token or a proxy: don't pin it
        Reason.STREAM_FORBIDDEN,
        Reason.STREAM_EXPIRED,
        Reason.SPOTIFY_UNAVAILABLE,  # Spotify down or rate limited: ask again next time
    }


def test_options_follow_the_config() -> None:
    cfg = config.build(
        {
            "extractor": {
                "cookies_file": "/etc/musicbot/cookies.txt",
                "user_agent": "MusicBot/1.0",
                "proxy": "socks5://127.0.0.1:1080",
                "extractor_args": {"youtube": {"player_client": ["web", "ios"]}},
                "timeout": 12.0,
            }
        },
        environ={},
    ).extractor
    url = build_options(cfg, mode=Mode.URL, playlist_cap=50)
    assert url["quiet"] and url["skip_download"] and url["noplaylist"]
    assert url["extract_flat"] == "in_playlist" and url["playlistend"] == 50
    assert url["cookiefile"] == "/etc/musicbot/cookies.txt"
    assert url["http_headers"] == {"User-Agent": "MusicBot/1.0"}
    assert url["proxy"] == "socks5://127.0.0.1:1080"
    assert url["extractor_args"] == {"youtube": {"player_client": ["web", "ios"]}}
    assert url["socket_timeout"] == 12.0
    assert "logger" not in url  # the options cross to a worker process as JSON
    assert json.loads(json.dumps(url)) == url
    assert url["js_runtimes"] == {"deno": {"path": bundled_deno()}}
    search = build_options(cfg, mode=Mode.SEARCH, playlist_cap=50)
    assert search["extract_flat"] is True and not search["noplaylist"]
    default = build_options(config.build({}, environ={}).extractor, mode=Mode.URL, playlist_cap=5)
    assert not {"cookiefile", "proxy", "http_headers", "extractor_args"} & set(default)


def test_search_query_uses_provider_and_count() -> None:
    cfg = config.build(
        {"extractor": {"search_provider": "scsearch", "search_results": 7}}, environ={}
    )
    assert search_query(cfg.extractor, "Sơn Tùng") == "scsearch7:Sơn Tùng"
    assert search_query(config.build({}, environ={}).extractor, "x") == "ytsearch5:x"


def test_ytdlp_warnings_are_collected_for_the_actor() -> None:
    from musicbot.extract.ytdlp import MAX_WARNINGS, CollectingLogger

    logger = CollectingLogger()
    logger.debug("[generic] Extracting URL")  # chatty, may hold signed URLs: dropped
    for n in range(MAX_WARNINGS + 5):
        logger.warning(f"w{n} " + "x" * 1000)
    assert len(logger.warnings) == MAX_WARNINGS
    assert logger.warnings[0].startswith("w0 ") and len(logger.warnings[0]) == 500


def test_expiry_from_googlevideo_urls() -> None:
    assert (
        parse_expire("https://rr1.googlevideo.com/videoplayback?expire=1700000000&ei=x")
        == 1700000000.0
    )
    assert (
        parse_expire("https://manifest.googlevideo.com/api/manifest/hls/expire/1700000123/ei/x")
        == 1700000123.0
    )
    assert parse_expire("https://cdn.example.com/a.mp3") is None


def test_track_from_a_full_info_dict() -> None:
    info = {
        "title": "Chúng ta của hiện tại",
        "webpage_url": "https://www.youtube.com/watch?v=abc",
        "url": "https://rr1.googlevideo.com/videoplayback?expire=1700000000",
        "http_headers": {"User-Agent": "UA"},
        "duration": 301,
        "uploader": "Sơn Tùng M-TP Official",
        "thumbnails": [{"url": "https://i.ytimg.com/a.jpg"}, {"url": "https://i.ytimg.com/b.jpg"}],
        "acodec": "opus",
        "ext": "webm",
    }
    track = track_from_info(info, now=1000.0, stream_ttl=1800.0)
    assert track.title == "Chúng ta của hiện tại" and track.duration == 301.0
    assert track.codec == "opus" and track.container == "webm"
    assert track.thumbnail == "https://i.ytimg.com/b.jpg"
    assert track.stream_expires_at == 1700000000.0
    assert track.uploader == "Sơn Tùng M-TP Official"
    merged = {
        "title": "x",
        "webpage_url": "https://a/x",
        "requested_formats": [
            {"url": "https://v", "acodec": "none", "vcodec": "avc1"},
            {"url": "https://a", "acodec": "mp4a.40.2", "ext": "m4a"},
        ],
    }
    audio = track_from_info(merged, now=1000.0, stream_ttl=60.0)
    assert (audio.stream_url, audio.codec, audio.stream_expires_at) == ("https://a", "aac", 1060.0)
    with pytest.raises(ExtractionError) as info_err:
        track_from_info({"title": "no formats"}, now=0.0, stream_ttl=1.0)
    assert info_err.value.reason is Reason.UNSUPPORTED


def test_codec_names() -> None:
    assert codec_name("opus", "webm") == "opus"
    assert codec_name("mp4a.40.5", "m4a") == "aac"
    assert codec_name("none", "mp3") == "mp3"
    assert codec_name(None, "webm") is None


def test_flat_entries_and_playlist_cap() -> None:
    smuggled = "http://h/media/a.webm#__youtubedl_smuggle=%7B%22force_videoid%22%3A+%22x%22%7D"
    entry = {"_type": "url_transparent", "url": smuggled, "title": "A", "duration": 3}
    track = track_from_entry(entry)
    assert track is not None and track.webpage_url == "http://h/media/a.webm"
    assert not track.resolved and track.duration == 3.0
    assert track_from_entry({"url": "javascript:alert(1)", "title": "x"}) is None
    info = {
        "_type": "playlist",
        "title": "List",
        "playlist_count": 10,
        "entries": [{"url": f"https://h/{i}", "title": f"t{i}"} for i in range(10)],
    }
    pl = playlist_from_info(info, cap=3, fallback_url="https://h/list")
    assert [t.title for t in pl.tracks] == ["t0", "t1", "t2"] and pl.truncated


def test_ffmpeg_duration_line() -> None:
    assert parse_duration(b"  Duration: 00:03:25.47, start: 0.000000, bitrate: 128 kb/s") == 205.47
    assert parse_duration(b"  Duration: N/A, start: 0") is None


def test_probe_reads_the_audio_codec() -> None:
    out = (
        b"Input #0, matroska,webm, from 'http://127.0.0.1/a.webm':\n"
        b"  Duration: 00:00:03.01, start: -0.007000, bitrate: 73 kb/s\n"
        b"  Stream #0:0: Audio: opus, 48000 Hz, stereo, fltp (default)\n"
    )
    assert parse_audio_codec(out) == "opus"
    assert parse_audio_codec(b"  Stream #0:0(und): Audio: mp3 (mp3float), 44100 Hz") == "mp3"
    assert parse_audio_codec(b"  Stream #0:0: Video: h264") is None
