"""What the guild actors get of the ops layer: one value, passed down by the composition root."""

from __future__ import annotations

import attrs

from musicbot.ops.audio import AudioBoard
from musicbot.ops.health import HealthSource, Thresholds
from musicbot.ops.metrics import Metrics


@attrs.frozen(kw_only=True)
class OpsContext:
    """``metrics`` and ``health`` for the /metrics and /health commands; ``board`` where a
    guild actor attaches its player's and voice connection's counters."""

    metrics: Metrics
    health: HealthSource
    board: AudioBoard
    thresholds: Thresholds = attrs.field(factory=Thresholds)
