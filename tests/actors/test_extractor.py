"""The extractor actor with REAL yt-dlp against the local media server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from actors import cache as cache_actor
from actors import extractor
from actors.extractor.messages import PlaylistResult, SearchResult, SingleResult
from musicbot import config
from musicbot.emulator.media import MediaServer
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.i18n import t
from musicbot.models.track import Track
from musicbot.safety import Refusal
from tests.actors.conftest import local_config

TIMEOUT = 60  # absolute limit for each test (a fresh worker process imports yt-dlp)


@asynccontextmanager
async def running(
    cfg: config.Config, *, with_cache: bool = True, **kw: Any
) -> AsyncIterator[tuple[extractor.ExtractorHandle, cache_actor.CacheHandle | None]]:
    async with trio.open_nursery() as nursery:
        cache = await cache_actor.start(nursery, cfg.cache) if with_cache else None
        handle = await extractor.start(nursery, config=cfg, cache=cache, **kw)
        yield handle, cache
        nursery.cancel_scope.cancel()


async def single(handle: extractor.ExtractorHandle, url: str, who: int = 1) -> Track:
    result = await handle.extract(url, requester_id=who)
    assert isinstance(result, SingleResult)
    return result.track


async def test_direct_file_resolves(media: MediaServer) -> None:
    with trio.fail_after(TIMEOUT):
        cfg = local_config()
        async with running(cfg) as (x, _):
            before = time.time()
            track = await single(x, media.media_url("c523"), who=42)
    assert track.title == "c523"  # a bare file has no title but its name
    assert track.webpage_url == media.media_url("c523")
    assert track.stream_url == media.media_url("c523")
    assert track.codec == "mp3" and track.container == "mp3"
    assert track.duration == pytest.approx(5.0, abs=0.1)  # probed with ffmpeg
    assert track.requester_id == 42 and not track.is_live
    assert track.stream_expires_at is not None
    assert before + cfg.cache.stream_ttl <= track.stream_expires_at <= time.time() + 1800
    assert "User-Agent" in track.http_headers


@pytest.mark.parametrize("name", ["a440", "e330"])  # Opus in WebM, Opus in Ogg
async def test_a_bare_opus_file_is_known_as_opus_so_it_is_passed_through(
    media: MediaServer, name: str
) -> None:
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, _):
            track = await single(x, media.media_url(name))
    assert track.codec == "opus"  # yt-dlp could not say; the ffmpeg probe did
    assert track.duration is not None


async def test_html_page_resolves_to_its_audio_element(media: MediaServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, _):
            track = await single(x, media.page_url("e330"))
    assert track.title == "Demo tone E330"
    assert track.webpage_url == media.page_url("e330")
    assert track.stream_url == media.media_url("e330")
    assert track.container == "ogg"
    assert track.duration == pytest.approx(4.0, abs=0.1)
    assert track.http_headers.get("Referer") == media.page_url("e330")


async def test_rss_feed_is_a_playlist_in_batches(media: MediaServer) -> None:
    cfg = local_config(extractor={"playlist_batch_size": 3, "playlist_batch_pause": 0.3})
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            result = await x.extract(media.feed_url, requester_id=7)
            assert isinstance(result, PlaylistResult)
            assert (result.title, result.total, result.truncated) == ("Demo tones", 4, False)
            batches = []
            async with result.batches:
                async for batch in result.batches:
                    batches.append(batch)
            assert [len(b) for b in batches] == [3, 1]
            tracks = [tr for b in batches for tr in b]
            assert [(tr.title, tr.duration) for tr in tracks] == [
                ("Demo tone A440", 3.0),
                ("Demo tone E330", 4.0),
                ("Demo tone C523", 5.0),
                ("Bài hát thử Sol 392", 2.0),
            ]
            assert all(not tr.resolved and tr.requester_id == 7 for tr in tracks)
            assert media.hits[media.media_url("a440").removeprefix(media.base_url)] == 0

            # Lazy resolution just before playing keeps the feed's metadata.
            entry = tracks[1].with_requester(7, "entry-1")
            playable = await x.resolve(entry)
    assert playable.stream_url == media.media_url("e330")
    assert (playable.title, playable.duration) == ("Demo tone E330", 4.0)
    assert (playable.requester_id, playable.entry_id) == (7, "entry-1")


async def test_playlist_import_is_capped(media: MediaServer) -> None:
    cfg = local_config(limits={"max_playlist_import": 2})
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            result = await x.extract(media.feed_url)
            assert isinstance(result, PlaylistResult)
            async with result.batches:
                got = [tr async for batch in result.batches for tr in batch]
    assert result.total == 2 and result.truncated
    assert [tr.title for tr in got] == ["Demo tone A440", "Demo tone E330"]


async def test_ten_concurrent_requests_make_one_extraction(media: MediaServer) -> None:
    path = "/media/a440.webm"
    with trio.fail_after(TIMEOUT):
        # No cache: single-flight alone must merge the requests.
        async with running(local_config(), with_cache=False) as (x, _):
            await single(x, media.media_url("g392"))  # also Opus in WebM, like a440
            one_extraction = media.hits["/media/g392.webm"]
            results: list[Track] = []

            async def ask(who: int) -> None:
                results.append(await single(x, media.url(path), who=who))

            async with trio.open_nursery() as nursery:
                for who in range(10):
                    nursery.start_soon(ask, who)
    assert one_extraction >= 1
    assert media.hits[path] == one_extraction
    assert len(results) == 10
    assert {tr.stream_url for tr in results} == {media.url(path)}
    assert sorted(tr.requester_id or 0 for tr in results) == list(range(10))


async def test_cache_answers_repeat_requests(media: MediaServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, cache):
            assert cache is not None
            first = await single(x, media.page_url("a440"), who=1)
            second = await single(x, media.page_url("a440"), who=2)
            stats = await cache.stats()
            suggestions = await cache.suggest("tone a44")
    assert media.hits["/page/a440.html"] == 1
    assert first.stream_url == second.stream_url and second.requester_id == 2
    assert stats.hits == 1 and stats.size == 1
    assert [s.url for s in suggestions] == [media.page_url("a440")]
    assert suggestions[0].title == "Demo tone A440"
    assert suggestions[0].count == 2


async def test_missing_file_is_removed_and_remembered(media: MediaServer) -> None:
    url = media.url("/missing/gone.webm")
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, _):
            for _ in range(2):
                with pytest.raises(ExtractionError) as info:
                    await x.extract(url)
                assert info.value.reason is Reason.REMOVED
    assert media.hits["/missing/gone.webm"] == 1  # the failure was cached
    assert "404" in info.value.detail
    assert info.value.text("en") == t("extract.removed", "en")
    assert info.value.text("vi") == "Bài này đã bị xoá hoặc không tồn tại."


async def test_forbidden_stream_is_private(media: MediaServer) -> None:
    media.forbid("/media/a440.webm")
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, _):
            with pytest.raises(ExtractionError) as info:
                await x.extract(media.media_url("a440"))
    assert info.value.reason is Reason.PRIVATE


async def test_slow_server_hits_the_timeout(media: MediaServer) -> None:
    media.slow_delay = 10.0
    cfg = local_config(extractor={"timeout": 0.5})
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            started = trio.current_time()
            with pytest.raises(ExtractionError) as info:
                await x.extract(media.url("/slow/media/a440.webm"))
            elapsed = trio.current_time() - started
    assert info.value.reason is Reason.TIMEOUT
    assert 0.4 <= elapsed < 3.0


@pytest.fixture
def jumpable_clock() -> trio.testing.MockClock:
    """Real-time pace (threads and sockets need it) that a test can jump forward."""
    return trio.testing.MockClock(rate=1.0)


async def test_expired_entry_is_reextracted(
    media: MediaServer, jumpable_clock: trio.testing.MockClock
) -> None:
    cfg = local_config(cache={"stream_ttl": 600.0})
    with trio.fail_after(TIMEOUT + 601.0):  # the jump below moves this deadline's clock too
        async with running(cfg) as (x, cache):
            assert cache is not None
            await single(x, media.page_url("a440"))
            await single(x, media.page_url("a440"))
            assert media.hits["/page/a440.html"] == 1
            jumpable_clock.jump(601.0)
            await single(x, media.page_url("a440"))
            stats = await cache.stats()
    assert media.hits["/page/a440.html"] == 2
    assert stats.expirations == 1


async def test_stale_stream_url_is_not_served_from_cache(media: MediaServer) -> None:
    """The cache entry is alive but the wall clock says the URL is about to expire."""
    now = [time.time()]
    cfg = local_config()
    with trio.fail_after(TIMEOUT):
        async with running(cfg, wall_clock=lambda: now[0]) as (x, _):
            first = await single(x, media.page_url("a440"))
            assert first.stream_expires_at == pytest.approx(now[0] + cfg.cache.stream_ttl)
            now[0] += cfg.cache.stream_ttl - 30  # within the safety margin
            await single(x, media.page_url("a440"))
    assert media.hits["/page/a440.html"] == 2


async def test_forced_resolve_reextracts(media: MediaServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with running(local_config()) as (x, _):
            track = await single(x, media.page_url("a440"))
            again = await x.resolve(track)
            assert media.hits["/page/a440.html"] == 1
            fresh = await x.resolve(track, force=True)
            await x.resolve(track)  # served by the entry the forced one refreshed
    assert media.hits["/page/a440.html"] == 2
    assert again.stream_url == fresh.stream_url == media.media_url("a440")


async def test_track_longer_than_the_limit_is_refused(media: MediaServer) -> None:
    cfg = local_config(limits={"max_track_seconds": 4})
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            result = await x.extract(media.feed_url)
            assert isinstance(result, PlaylistResult)
            async with result.batches:
                tracks = [tr async for batch in result.batches for tr in batch]
            ok = await x.resolve(tracks[1])  # 4 s
            with pytest.raises(ExtractionError) as info:
                await x.resolve(tracks[2])  # 5 s
            with pytest.raises(ExtractionError) as direct:
                await x.extract(media.media_url("c523"))  # 5 s, known only by probing
    assert ok.duration == 4.0
    assert info.value.reason is Reason.TOO_LONG
    assert direct.value.reason is Reason.TOO_LONG


async def test_loopback_link_refused_by_default(media: MediaServer) -> None:
    cfg = config.build({"extractor": {"allowed_domains": ["*"]}}, environ={})
    port = media.base_url.rsplit(":", 1)[1]
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            for url in (
                media.media_url("a440"),
                f"http://localhost:{port}/media/a440.webm",  # by name: refused after DNS
                f"http://2130706433:{port}/media/a440.webm",  # 127.0.0.1 as a number
            ):
                with pytest.raises(Refusal) as info:
                    await x.extract(url)
                assert info.value.reason == "safety.private"
    assert info.value.text("en") == "This link points to a private address, so I won't open it."
    assert sum(media.hits.values()) == 0


async def test_disallowed_domain_refused_with_a_clear_message(media: MediaServer) -> None:
    cfg = config.build(
        {"extractor": {"allowed_domains": ["example.org"], "allow_private_addresses": True}},
        environ={},
    )
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            with pytest.raises(Refusal) as info:
                await x.extract(media.media_url("a440"))
            with pytest.raises(Refusal) as scheme:
                await x.extract("file:///etc/passwd")
    assert info.value.reason == "safety.domain"
    assert info.value.text("en") == "This site is not allowed here (127.0.0.1)."
    assert "không được phép" in info.value.text("vi")
    assert scheme.value.reason == "safety.bad_url"
    assert sum(media.hits.values()) == 0


async def test_search_uses_the_configured_provider(media: MediaServer) -> None:
    """A URL template as search_provider: the media server's local search (an RSS feed)."""
    cfg = local_config(extractor={"search_provider": media.search_template, "search_results": 2})
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            result = await x.search("  Demo \x00 – tone\t ", 9)
            typed = await x.extract("bai hat", requester_id=3)
            with pytest.raises(ExtractionError) as nothing:
                await x.search("Sơn Tùng M-TP")
            with pytest.raises(Refusal) as empty:
                await x.search(" \x07 ")
    assert media.searches == ["Demo – tone", "bai hat", "Sơn Tùng M-TP"]
    assert isinstance(result, SearchResult)
    assert [tr.title for tr in result.tracks] == ["Demo tone A440", "Demo tone E330"]
    assert nothing.value.reason is Reason.NO_RESULTS
    assert all(tr.requester_id == 9 and not tr.resolved for tr in result.tracks)
    assert isinstance(typed, SearchResult) and typed.tracks[0].requester_id == 3
    assert [tr.title for tr in typed.tracks] == ["Bài hát thử Sol 392"]
    assert empty.value.reason == "safety.empty_query"
    assert set(media.hits) == {"/search"}  # flat results: no media fetched until resolved


async def test_a_dead_cache_only_makes_it_slower(media: MediaServer) -> None:
    send, receive = trio.open_memory_channel[Any](1)
    receive.close()  # the cache is gone
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            cfg = local_config()
            x = await extractor.start(nursery, config=cfg, cache=cache_actor.CacheHandle(send))
            track = await single(x, media.page_url("a440"))
            nursery.cancel_scope.cancel()
    assert track.title == "Demo tone A440"


async def test_a_resolved_playlist_entry_does_not_open_the_allow_list(media: MediaServer) -> None:
    """Entries are checked by address only; typing the same link still needs the allow-list."""
    cfg = local_config(extractor={"allowed_domains": ["localhost"]})
    feed = media.feed_url.replace("127.0.0.1", "localhost")
    with trio.fail_after(TIMEOUT):
        async with running(cfg) as (x, _):
            result = await x.extract(feed)
            assert isinstance(result, PlaylistResult)
            async with result.batches:
                entries = [tr async for batch in result.batches for tr in batch]
            played = await x.resolve(entries[0])  # the enclosure lives on 127.0.0.1
            with pytest.raises(Refusal) as info:
                await x.extract(entries[0].webpage_url)
    assert played.stream_url == media.media_url("a440")
    assert info.value.reason == "safety.domain"
