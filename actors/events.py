"""The event bus: typed playback and voice events fanned out to subscribers.

Theory.  Events are facts that already happened ("track started in guild 1"), published by the
actor that owns the fact (the guild actor, the voice connection) for whoever wants to know
(now-playing messages, metrics, tests).  Publishing must never slow the publisher down, so the
bus is lossy by design: each subscriber has its own bounded channel and ``publish`` uses
``send_nowait``; when a subscriber's buffer is full the event is dropped *for that subscriber
only* and counted (per subscriber and in total, exported as a metric).  A subscriber that needs
every event must keep up or ask for a larger buffer.

Publishing from any task is safe without locks: Trio runs one task at a time and ``publish``
never awaits.  ``subscribe()`` returns a :class:`Subscription`; entering it registers the
subscriber and yields its receive channel, leaving it unsubscribes and closes the channel.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Final

import attrs
import structlog
import trio

from musicbot.models.track import Track

log = structlog.get_logger(__name__)

DEFAULT_BUFFER: Final = 64  # events; a burst of a playlist import fits


class EndReason(enum.Enum):
    FINISHED = "finished"  # the source ran out
    SKIPPED = "skipped"  # /skip, /skipto, /previous
    STOPPED = "stopped"  # /stop, leaving voice, shutdown


@attrs.frozen(kw_only=True)
class TrackStarted:
    guild_id: int
    track: Track


@attrs.frozen(kw_only=True)
class TrackFinished:
    guild_id: int
    track: Track
    reason: EndReason = EndReason.FINISHED
    played: float = 0.0  # seconds actually played


@attrs.frozen(kw_only=True)
class TrackFailed:
    """A track could not be played (extraction or source failure); the queue moves on."""

    guild_id: int
    track: Track
    error: str  # the error's class and fields, never user-facing text


@attrs.frozen(kw_only=True)
class TrackProcessed:
    """Extraction finished: ``track`` now has its metadata (and a stream URL unless lazy)."""

    guild_id: int
    track: Track
    elapsed: float = 0.0  # seconds the extraction took
    cached: bool = False


@attrs.frozen(kw_only=True)
class QueueEmpty:
    guild_id: int


@attrs.frozen(kw_only=True)
class PlaybackError:
    """The player itself failed (audio source, voice send), as opposed to one bad track."""

    guild_id: int
    error: str
    track: Track | None = None


@attrs.frozen(kw_only=True)
class VoiceConnected:
    guild_id: int
    channel_id: int


@attrs.frozen(kw_only=True)
class VoiceDisconnected:
    guild_id: int
    channel_id: int | None
    reason: str = ""  # e.g. "left", "kicked", "idle", "close_code_4014"


Event = (
    TrackStarted
    | TrackFinished
    | TrackFailed
    | TrackProcessed
    | QueueEmpty
    | PlaybackError
    | VoiceConnected
    | VoiceDisconnected
)

EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    TrackStarted,
    TrackFinished,
    TrackFailed,
    TrackProcessed,
    QueueEmpty,
    PlaybackError,
    VoiceConnected,
    VoiceDisconnected,
)


class Subscription:
    """One subscriber: ``async with bus.subscribe(...) as events: async for e in events``."""

    def __init__(
        self, bus: EventBus, name: str, types: tuple[type[Event], ...] | None, buffer: int
    ) -> None:
        if buffer < 1:
            raise ValueError("a subscriber needs a buffer of at least 1")
        self.name = name
        self.types = types
        self.drops = 0
        self.delivered = 0
        self._bus = bus
        self._send, self._receive = trio.open_memory_channel[Event](buffer)

    def wants(self, event: Event) -> bool:
        return self.types is None or isinstance(event, self.types)

    def offer(self, event: Event) -> bool:
        """Deliver without waiting; False when dropped (full) or the subscriber has gone."""
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            self.drops += 1
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._bus._remove(self)
            return False
        self.delivered += 1
        return True

    def close(self) -> None:
        self._send.close()

    async def __aenter__(self) -> trio.MemoryReceiveChannel[Event]:
        self._bus._add(self)
        return self._receive

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bus._remove(self)
        self._send.close()
        self._receive.close()


class EventBus:
    """Fan-out of :data:`Event` values.  Owned by whoever created it; passed in as a dependency."""

    def __init__(
        self,
        *,
        default_buffer: int = DEFAULT_BUFFER,
        on_drop: Callable[[str, int], None] | None = None,
    ) -> None:
        """``on_drop(subscriber_name, n)`` is told about every drop (e.g. a metrics counter)."""
        self._subscribers: list[Subscription] = []
        self._on_drop = on_drop
        self._default_buffer = default_buffer
        self._drops_by_name: dict[str, int] = {}
        self._closed = False
        self.published = 0
        self.drops = 0

    def subscribe(
        self,
        types: Iterable[type[Event]] | None = None,
        *,
        buffer: int | None = None,
        name: str = "subscriber",
    ) -> Subscription:
        """A subscription to ``types`` (all events when None).  Registered when entered."""
        wanted = None if types is None else tuple(types)
        size = self._default_buffer if buffer is None else buffer
        return Subscription(self, name, wanted, size)

    def publish(self, event: Event) -> int:
        """Offer ``event`` to every interested subscriber; never blocks.  Returns how many
        subscribers received it."""
        if self._closed:
            return 0
        self.published += 1
        delivered = 0
        for sub in tuple(self._subscribers):
            if not sub.wants(event):
                continue
            if sub.offer(event):
                delivered += 1
            elif sub in self._subscribers:  # full, not gone
                self.drops += 1
                self._drops_by_name[sub.name] = self._drops_by_name.get(sub.name, 0) + 1
                if self._on_drop is not None:
                    self._on_drop(sub.name, 1)
        return delivered

    def drops_by_subscriber(self) -> dict[str, int]:
        """Dropped events per subscriber name since the bus started (for metrics)."""
        return dict(self._drops_by_name)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every subscription (their ``async for`` loops finish) and ignore later events."""
        self._closed = True
        for sub in self._subscribers:
            sub.close()
        self._subscribers.clear()

    def _add(self, sub: Subscription) -> None:
        if self._closed:
            sub.close()  # the subscriber's loop ends at once
            return
        self._subscribers.append(sub)
        log.debug("event_subscriber_added", subscriber=sub.name, types=_names(sub.types))

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
            log.debug("event_subscriber_removed", subscriber=sub.name, drops=sub.drops)


def _names(types: tuple[type[Event], ...] | None) -> list[str] | None:
    return None if types is None else [t.__name__ for t in types]


async def run_event_bus(
    *,
    default_buffer: int = DEFAULT_BUFFER,
    on_drop: Callable[[str, int], None] | None = None,
    task_status: trio.TaskStatus[EventBus] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The bus as a node of the tree: lives until cancelled, then ends every subscription."""
    bus = EventBus(default_buffer=default_buffer, on_drop=on_drop)
    try:
        task_status.started(bus)
        await trio.sleep_forever()
    finally:
        bus.close()
        log.debug("event_bus_closed", published=bus.published, drops=bus.drops)
