"""Track factories for queue tests."""

from __future__ import annotations

from musicbot.models.track import Track


def song(name: str, **fields: object) -> Track:
    return Track(title=name, webpage_url=f"https://example.com/{name}", **fields)  # type: ignore[arg-type]


def titles(tracks: object) -> list[str]:
    return [t.title for t in tracks]  # type: ignore[attr-defined]
