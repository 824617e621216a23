"""Fixtures of the demo tests: the demo's melodies made once per test session."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest

from musicbot.demo import tracks


@pytest.fixture(scope="session")
def melody_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tracks, generated once with the bundled ffmpeg (as the first run does)."""
    directory = tmp_path_factory.mktemp("demo-media")
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    for melody in tracks.MELODIES:
        out = directory / melody.tone.filename
        subprocess.run(tracks.argv(exe, melody, out), check=True, capture_output=True, timeout=120)
    return directory


@pytest.fixture
def data_dir(tmp_path: Path, melody_cache: Path) -> Callable[[], Path]:
    """A fresh data dir holding the cached melodies (the demo would reuse them too)."""

    def make() -> Path:
        path = tmp_path / "data"
        if not path.exists():
            shutil.copytree(melody_cache, tracks.cache_dir(path))
        return path

    return make
