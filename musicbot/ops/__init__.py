"""Operations: Prometheus metrics, the health model and the /metrics /healthz /readyz endpoint.

``Metrics`` (metrics.py) is created once by the composition root and passed to every layer that
counts something; ``HealthState`` (health.py) is updated by the shards, the REST client and the
guild supervisor; ``serve`` (server.py) exposes both over HTTP when ``[ops] listen`` is set.
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
