"""Operations: Prometheus metrics, the health model and the /metrics /healthz /readyz endpoint.

``Metrics`` (metrics.py) and ``HealthState`` (health.py) are created once by the composition
root; ``serve`` (server.py) exposes both over HTTP when ``[ops] listen`` is set.  ``wiring.py`` is
the composition root's part that feeds them (hooks, bus events, a 1 s sampler; it imports actors,
so this package does not import it); ``audio.py`` samples the players' and voice connections'
counters; ``context.py`` is what guild actors get (/metrics, /health, the audio board).
"""

from musicbot.ops.health import (
    HealthReport,
    HealthSource,
    HealthState,
    ShardStatus,
    Status,
    Thresholds,
    evaluate,
)
from musicbot.ops.metrics import GuildFigures, Metrics, MetricsSnapshot
from musicbot.ops.server import serve

__all__ = [
    "GuildFigures",
    "HealthReport",
    "HealthSource",
    "HealthState",
    "Metrics",
    "MetricsSnapshot",
    "ShardStatus",
    "Status",
    "Thresholds",
    "evaluate",
    "serve",
]
