"""The cache actor (see :mod:`actors.cache.actor`)."""

from actors.cache.actor import CacheHandle, run, start
from actors.cache.core import CacheStats, Suggestion

__all__ = ["CacheHandle", "CacheStats", "Suggestion", "run", "start"]
