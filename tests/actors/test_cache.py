"""The cache: its pure data structures (hypothesis) and the actor (MockClock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import cache as cache_actor
from actors.cache.core import Popularity, Store, fold
from musicbot import config
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import SearchInfo, TrackInfo
from musicbot.models.track import Track

# ------------------------------------------------------------------ Store (pure)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 30), st.floats(0.0, 50.0)),
        st.tuples(st.just("get"), st.integers(0, 30), st.just(0.0)),
        st.tuples(st.just("advance"), st.just(0), st.floats(0.0, 20.0)),
        st.tuples(st.just("sweep"), st.just(0), st.just(0.0)),
        st.tuples(st.just("invalidate"), st.integers(0, 30), st.just(0.0)),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(max_entries=st.integers(1, 12), ops=ops)
def test_store_never_exceeds_its_bound(max_entries: int, ops: list[tuple[str, int, float]]) -> None:
    store: Store[int] = Store(max_entries)
    now = 0.0
    gets = 0
    for op, key, arg in ops:
        k = f"k{key}"
        if op == "put":
            store.put(k, key, now, arg)
            if now + arg > now:
                # What was just written is readable until its deadline.
                assert store.get(k, now) == (key, False)
                gets += 1
        elif op == "get":
            found = store.get(k, now)
            gets += 1
            assert found is None or found == (key, False)
        elif op == "advance":
            now += arg
        elif op == "sweep":
            store.sweep(now)
            assert all(store.get(f"k{i}", now) is not None for i in range(31) if f"k{i}" in store)
            gets += sum(1 for i in range(31) if f"k{i}" in store)
        else:
            store.invalidate(k)
        assert len(store) <= max_entries
    stats = store.stats()
    assert stats.hits + stats.misses + stats.negative_hits == gets
    assert stats.size == len(store) <= max_entries


def test_store_evicts_least_recently_used() -> None:
    store: Store[str] = Store(2)
    store.put("a", "A", 0.0, 10.0)
    store.put("b", "B", 0.0, 10.0)
    assert store.get("a", 1.0) == ("A", False)  # a is now the most recent
    store.put("c", "C", 1.0, 10.0)
    assert store.get("b", 1.0) is None
    assert store.get("a", 1.0) == ("A", False)
    assert store.stats().evictions == 1


def test_entry_expires_at_its_own_deadline() -> None:
    store: Store[str] = Store(10)
    store.put("short", "S", 0.0, 1.0)
    store.put("long", "L", 0.0, 100.0)
    assert store.get("short", 0.999) == ("S", False)
    assert store.get("short", 1.0) is None
    assert store.get("long", 50.0) == ("L", False)
    assert store.stats().expirations == 1


# ------------------------------------------------------------------ Popularity (pure)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 200), max_size=600))
def test_popularity_is_bounded_and_keeps_the_heavy_hitter(noise: list[int]) -> None:
    pop = Popularity(capacity=16)
    heavy_total = 0
    for i, n in enumerate(noise):
        pop.note(f"title {n}", f"https://x/{n}", float(i))
        if i % 2 == 0:  # the heavy hitter is a third of all notes or more
            pop.note("Heavy", "https://x/heavy", float(i))
            heavy_total += 1
        assert len(pop) <= 16
    if heavy_total:
        # Space-Saving keeps every item seen more than N / capacity times.
        urls = [s.url for s in pop.suggest("", 16)]
        assert "https://x/heavy" in urls


def test_suggestions_ignore_case_and_vietnamese_accents() -> None:
    pop = Popularity(capacity=8)
    pop.note("Sơn Tùng M-TP – Chúng ta của hiện tại", "https://y/1", 1.0)
    pop.note("Đen Vâu – Bài này chill phết", "https://y/2", 2.0)
    pop.note("Đen Vâu – Bài này chill phết", "https://y/2", 3.0)
    pop.note("Another song", "https://y/3", 4.0)
    assert [s.url for s in pop.suggest("son tung", 5)] == ["https://y/1"]
    assert [s.url for s in pop.suggest("den", 5)] == ["https://y/2"]
    assert [s.title for s in pop.suggest("CHÚNG TA", 5)] == [
        "Sơn Tùng M-TP – Chúng ta của hiện tại"
    ]
    assert [s.url for s in pop.suggest("", 2)] == ["https://y/2", "https://y/3"]
    assert fold("Tiếng Việt") == "tieng viet"


# ------------------------------------------------------------------ the actor


def track(n: int) -> TrackInfo:
    return TrackInfo(track=Track(title=f"t{n}", webpage_url=f"https://e/{n}", stream_url="s"))


@asynccontextmanager
async def cache_with(**cache_cfg: float | int) -> AsyncIterator[cache_actor.CacheHandle]:
    cfg = config.build({"cache": cache_cfg}, environ={})
    async with trio.open_nursery() as nursery:
        yield await cache_actor.start(nursery, cfg.cache)
        nursery.cancel_scope.cancel()


async def test_ttl_and_periodic_sweep(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(1000):
        async with cache_with(ttl=100.0, sweep_interval=10.0) as cache:
            await cache.put("a", track(1), ttl=30.0)
            await cache.put("b", track(2), ttl=1000.0)  # capped at ttl = 100
            assert await cache.get("a") == track(1)
            await trio.sleep(31.0)
            # The sweeper removed "a" without anybody asking for it.
            stats = await cache.stats()
            assert (stats.size, stats.expirations) == (1, 1)
            assert await cache.get("b") == track(2)
            await trio.sleep(70.0)
            assert await cache.get("b") is None
            stats = await cache.stats()
    assert stats.hits == 2 and stats.size == 0 and stats.expirations == 2


async def test_failures_are_remembered_for_negative_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    error = ExtractionError(Reason.REMOVED, "HTTP Error 404")
    with trio.fail_after(1000):
        async with cache_with(negative_ttl=5.0) as cache:
            await cache.put_failure("gone", error)
            assert await cache.get("gone") is error
            await trio.sleep(5.5)
            assert await cache.get("gone") is None
            stats = await cache.stats()
    assert stats.negative_hits == 1


async def test_bounded_by_max_entries_with_stats(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(1000):
        async with cache_with(max_entries=3) as cache:
            for n in range(5):
                await cache.put(f"k{n}", track(n), ttl=60.0)
            search = SearchInfo(query="q", tracks=())
            await cache.put("s", search, ttl=60.0)
            await cache.invalidate("k4")
            assert await cache.get("k0") is None
            assert await cache.get("s") == search
            stats = await cache.stats()
    assert (stats.size, stats.evictions, stats.misses, stats.hits) == (2, 3, 1, 1)


async def test_suggest_through_the_actor(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with cache_with() as cache:
            await cache.note("Sơn Tùng M-TP – Chúng ta của hiện tại", "https://y/1")
            await cache.note("Other", "https://y/2")
            found = await cache.suggest("son", 5)
    assert [s.url for s in found] == ["https://y/1"]
