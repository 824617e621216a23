"""Fixtures for actor tests: a local media site and configs that may fetch from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from musicbot import config
from musicbot.emulator.media import MediaServer, open_media_server


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated tones are made once per test session and reused."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture
async def media(media_dir: Path) -> AsyncIterator[MediaServer]:
    async with open_media_server(media_dir) as server:
        yield server


def local_config(**sections: dict[str, Any]) -> config.Config:
    """A config allowed to fetch from 127.0.0.1 (the test media server)."""
    extractor = {
        "allowed_domains": ["*"],
        "allow_private_addresses": True,
        "timeout": 30.0,
        "workers": 2,  # each worker process imports yt-dlp: keep the test machine cool
    }
    extractor.update(sections.pop("extractor", {}))
    return config.build({"extractor": extractor, **sections}, environ={})
