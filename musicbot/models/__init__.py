"""Plain data shared by every layer (no I/O)."""

from musicbot.models.track import Track

__all__ = ["Track"]
