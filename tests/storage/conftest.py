from __future__ import annotations

from pathlib import Path

import pytest

from musicbot.storage import Storage


class FakeWallClock:
    """Deterministic UNIX time for created/updated stamps."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def wall() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
def storage(tmp_path: Path, wall: FakeWallClock) -> Storage:
    return Storage(root=tmp_path / "data", max_playlists=4, max_playlist_tracks=6, clock=wall)
