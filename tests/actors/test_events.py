"""The event bus: fan-out, type filters, lossy slow subscribers, unsubscribe, close."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.events import (
    EVENT_TYPES,
    EndReason,
    Event,
    EventBus,
    QueueEmpty,
    TrackFinished,
    TrackStarted,
    VoiceConnected,
    run_event_bus,
)
from musicbot.models.track import Track

SONG = Track(title="Song", webpage_url="https://example.com/s", entry_id="e1")


async def collect(channel: trio.MemoryReceiveChannel[Event], into: list[Event]) -> None:
    async for event in channel:
        into.append(event)


async def test_every_subscriber_gets_every_event(autojump_clock: Any) -> None:
    bus = EventBus()
    first: list[Event] = []
    second: list[Event] = []
    events: list[Event] = [
        TrackStarted(guild_id=1, track=SONG),
        TrackFinished(guild_id=1, track=SONG, reason=EndReason.SKIPPED),
        QueueEmpty(guild_id=1),
    ]
    with trio.fail_after(5):
        async with bus.subscribe(name="a") as a, bus.subscribe(name="b") as b:
            assert bus.subscriber_count == 2
            for event in events:
                assert bus.publish(event) == 2
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, a, first)
                nursery.start_soon(collect, b, second)
                await trio.sleep(1)
                nursery.cancel_scope.cancel()
        assert bus.subscriber_count == 0
    assert first == events
    assert second == events
    assert bus.publish(QueueEmpty(guild_id=2)) == 0  # nobody listens any more


async def test_type_filter(autojump_clock: Any) -> None:
    bus = EventBus()
    got: list[Event] = []
    with trio.fail_after(5):
        async with bus.subscribe([TrackStarted, VoiceConnected], name="np") as events:
            bus.publish(QueueEmpty(guild_id=1))
            bus.publish(TrackStarted(guild_id=1, track=SONG))
            bus.publish(TrackFinished(guild_id=1, track=SONG))
            bus.publish(VoiceConnected(guild_id=1, channel_id=9))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, events, got)
                await trio.sleep(1)
                nursery.cancel_scope.cancel()
    assert got == [TrackStarted(guild_id=1, track=SONG), VoiceConnected(guild_id=1, channel_id=9)]


async def test_slow_subscriber_drops_are_counted_and_never_block(autojump_clock: Any) -> None:
    reported: list[tuple[str, int]] = []
    bus = EventBus(on_drop=lambda name, n: reported.append((name, n)))
    fast_got: list[Event] = []
    slow_got: list[Event] = []
    with trio.fail_after(5):
        async with (
            bus.subscribe(name="slow", buffer=2) as slow,
            bus.subscribe(name="fast", buffer=200) as fast,
        ):
            start = trio.current_time()
            for n in range(100):
                bus.publish(QueueEmpty(guild_id=n))  # sync: cannot block by construction
            assert trio.current_time() == start
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, slow, slow_got)
                nursery.start_soon(collect, fast, fast_got)
                await trio.sleep(1)
                nursery.cancel_scope.cancel()
    assert [e.guild_id for e in fast_got if isinstance(e, QueueEmpty)] == list(range(100))
    assert [e.guild_id for e in slow_got if isinstance(e, QueueEmpty)] == [0, 1]
    assert bus.drops == 98
    assert bus.drops_by_subscriber() == {"slow": 98}
    assert reported == [("slow", 1)] * 98
    assert bus.published == 100


async def test_subscriber_that_closed_its_channel_is_removed(autojump_clock: Any) -> None:
    bus = EventBus()
    with trio.fail_after(5):
        async with bus.subscribe(name="quitter") as events:
            await events.aclose()
            assert bus.publish(QueueEmpty(guild_id=1)) == 0
            assert bus.subscriber_count == 0
    assert bus.drops == 0


async def test_run_event_bus_ends_subscriptions_on_shutdown(autojump_clock: Any) -> None:
    got: list[Event] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as outer:
            bus: EventBus = await outer.start(run_event_bus)
            async with bus.subscribe() as events:
                bus.publish(QueueEmpty(guild_id=3))
                outer.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    await collect(events, got)  # ends because the bus closed
    assert got == [QueueEmpty(guild_id=3)]
    assert bus.publish(QueueEmpty(guild_id=4)) == 0


def test_events_are_frozen_and_carry_the_guild() -> None:
    event = TrackStarted(guild_id=5, track=SONG)
    with pytest.raises(AttributeError):
        event.guild_id = 6  # type: ignore[misc]
    for cls in EVENT_TYPES:
        assert any(a.name == "guild_id" for a in cls.__attrs_attrs__)


def test_subscribe_rejects_an_empty_buffer() -> None:
    with pytest.raises(ValueError):
        EventBus().subscribe(buffer=0)
