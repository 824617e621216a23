"""The extractor's ``related`` request (autoplay): YouTube's mix for YouTube videos, the
configured provider for other tracks, with REAL yt-dlp against the local media server."""

from __future__ import annotations

import attrs
import pytest
import trio

from actors.extractor.related import related_url, same_track, youtube_id
from musicbot import config
from musicbot.config import ExtractorConfig
from musicbot.emulator.media import MediaServer
from musicbot.errors import ConfigError
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.options import Mode, build_options
from musicbot.models.track import Track
from musicbot.safety import Refusal
from tests.actors.conftest import local_config
from tests.actors.test_extractor import TIMEOUT, running

VIDEO = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VIDEO}",
        f"https://youtube.com/watch?v={VIDEO}&list=PL123&t=42",
        f"https://m.youtube.com/watch?v={VIDEO}",
        f"https://music.youtube.com/watch?v={VIDEO}",
        f"https://youtu.be/{VIDEO}?si=abc",
        f"https://www.youtube.com/shorts/{VIDEO}",
    ],
)
def test_a_youtube_video_is_found_under_any_of_its_links(url: str) -> None:
    assert youtube_id(url) == VIDEO
    mix = related_url(ExtractorConfig(), Track(title="x", webpage_url=url))
    assert mix == f"https://www.youtube.com/watch?v={VIDEO}&list=RD{VIDEO}"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/playlist?list=PL123",
        "https://www.youtube.com/watch?v=short",
        "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
        "https://soundcloud.com/artist/track",
        "not a url",
    ],
)
def test_other_links_are_not_youtube_videos(url: str) -> None:
    assert youtube_id(url) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://127.0.0.1/related", "must contain {url}"),
        ("ftp://x/{url}", "URL template starting with http"),
    ],
)
def test_the_provider_is_validated(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"extractor.related_provider: .*{problem}"):
        config.build({"extractor": {"related_provider": value}}, environ={})
    good = config.build(
        {"extractor": {"related_provider": "https://r.example/?u={url}"}}, environ={}
    )
    assert good.extractor.related_provider == "https://r.example/?u={url}"
    assert config.build({}, environ={}).extractor.related_provider == ""


def test_the_mix_is_read_as_a_flat_playlist() -> None:
    # A watch link with list= means the video under Mode.URL; related lists are fetched as a
    # search is, where the playlist is the point and its entries stay flat.
    opts = build_options(ExtractorConfig(), mode=Mode.SEARCH, playlist_cap=200)
    assert opts["noplaylist"] is False and opts["extract_flat"] is True


def test_other_sites_go_to_the_provider_or_nowhere() -> None:
    track = Track(title="x", webpage_url="https://soundcloud.com/a/b?x=1&y=2")
    assert related_url(ExtractorConfig(), track) is None
    cfg = ExtractorConfig(related_provider="http://radio.example/related?of={url}&n=5")
    assert related_url(cfg, track) == (
        "http://radio.example/related?of=https%3A%2F%2Fsoundcloud.com%2Fa%2Fb%3Fx%3D1%26y%3D2&n=5"
    )
    assert same_track(f"https://youtu.be/{VIDEO}", f"https://www.youtube.com/watch?v={VIDEO}")
    assert not same_track("https://a.example/1", "https://a.example/2")


async def test_related_tracks_come_from_the_configured_provider(media: MediaServer) -> None:
    cfg = local_config(extractor={"related_provider": media.related_template})
    seed = Track(title="Demo tone A440", webpage_url=media.page_url("a440"), entry_id="q7")
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            tracks = await x.related(seed)
            again = await x.related(seed)  # cached: the provider is asked once
    assert [tr.title for tr in tracks] == [
        "Demo tone E330",
        "Demo tone C523",
        "Bài hát thử Sol 392",
    ]
    assert again == tracks
    assert media.related == [media.page_url("a440")]  # the seed's page, URL-decoded
    assert all(not tr.resolved and not tr.autoplay and tr.requester_id is None for tr in tracks)
    assert media.media_url("a440") not in [tr.webpage_url for tr in tracks]
    assert set(media.hits) == {"/related"}  # flat: nothing fetched until it plays


async def test_nothing_related_is_no_results(media: MediaServer) -> None:
    with trio.fail_after(TIMEOUT):
        # No provider for a site that is not YouTube: asked nowhere.
        async with running(local_config()) as (x, _):
            with pytest.raises(ExtractionError) as nowhere:
                await x.related(Track(title="a", webpage_url=media.media_url("a440")))
        assert nowhere.value.reason is Reason.NO_RESULTS
        assert media.related == []
        # The provider lists nothing but the seed itself (a pool of one).
        media.tones = {"a440": media.tones["a440"]}
        cfg = local_config(extractor={"related_provider": media.related_template})
        async with running(cfg) as (x, _):
            with pytest.raises(ExtractionError) as alone:
                await x.related(Track(title="a", webpage_url=media.media_url("a440")))
    assert alone.value.reason is Reason.NO_RESULTS
    assert media.related == [media.media_url("a440")]


async def test_the_provider_address_is_checked(media: MediaServer) -> None:
    cfg = local_config(
        extractor={"related_provider": media.related_template, "allow_private_addresses": False}
    )
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            with pytest.raises(Refusal) as refused:
                await x.related(Track(title="a", webpage_url="https://example.org/a"))
    assert refused.value.reason == "safety.private"
    assert media.related == []


def test_a_mirrored_track_is_asked_about_by_its_mirror() -> None:
    spotify = "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"
    mirrored = Track(
        title="x", webpage_url=spotify, mirror_url=f"https://www.youtube.com/watch?v={VIDEO}"
    )
    assert related_url(ExtractorConfig(), mirrored) == (
        f"https://www.youtube.com/watch?v={VIDEO}&list=RD{VIDEO}"
    )
    cfg = ExtractorConfig(related_provider="http://radio.example/related?of={url}")
    other = attrs.evolve(mirrored, mirror_url="https://soundcloud.com/a/b")
    assert related_url(cfg, other) == (
        "http://radio.example/related?of=https%3A%2F%2Fsoundcloud.com%2Fa%2Fb"
    )
    assert mirrored.pages == (spotify, f"https://www.youtube.com/watch?v={VIDEO}")
