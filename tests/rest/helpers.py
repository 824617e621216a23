"""Shared test helpers: the OpenAPI body validator and an emulator REST server fixture body."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from musicbot.config import Secret
from musicbot.emulator.openapi import (
    BodyValidator,
    ResponseValidator,
    load_response_validator,
    load_validator,
)
from musicbot.emulator.rest import EmulatorRest
from musicbot.rest import RestClient, open_rest_client

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "discord-openapi" / "openapi.json"
APPLICATION_ID = 1_100_000_000_000_000_001
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.secret-token-value.xyz"
GATEWAY_URL = "ws://127.0.0.1:9/"


@functools.cache
def spec_validator() -> BodyValidator:
    return load_validator(SPEC_PATH)


@functools.cache
def spec_response_validator() -> ResponseValidator:
    return load_response_validator(SPEC_PATH)


@asynccontextmanager
async def running_emulator(**kwargs: Any) -> AsyncIterator[EmulatorRest]:
    """An emulator REST server on 127.0.0.1 that validates every body against OpenAPI.

    On exit it asserts that no body failed validation (the bot's requests, and the emulator's
    own answers) and that no request broke a rate limit.
    """
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("response_validator", spec_response_validator())
    emu = EmulatorRest(APPLICATION_ID, lambda: GATEWAY_URL, spec_validator(), **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(emu.serve)
        yield emu
        nursery.cancel_scope.cancel()
    assert emu.validation_errors == [], emu.validation_errors
    assert emu.rate_limit_violations == [], emu.rate_limit_violations
    assert emu.response_errors == [], emu.response_errors


@asynccontextmanager
async def client_for(emu: EmulatorRest, **kwargs: Any) -> AsyncIterator[RestClient]:
    kwargs.setdefault("retry_base_delay", 0.05)
    token = kwargs.pop("token", TOKEN)
    async with open_rest_client(api_base=emu.base_url, token=Secret(token), **kwargs) as rest:
        yield rest
