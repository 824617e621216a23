"""Plain data shared by every layer (no I/O)."""

from musicbot.models.queue import (
    HISTORY_LIMIT,
    Queue,
    QueueFull,
    QueuePage,
    QueuePositionError,
    RepeatMode,
)
from musicbot.models.track import Track

__all__ = [
    "HISTORY_LIMIT",
    "Queue",
    "QueueFull",
    "QueuePage",
    "QueuePositionError",
    "RepeatMode",
    "Track",
]
