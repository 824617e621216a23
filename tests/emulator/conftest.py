"""Fixtures for emulator tests: a full emulator (world + gateway + REST) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from musicbot.emulator.server import Emulator, open_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator(heartbeat_interval=1.0) as emu:
        yield emu
