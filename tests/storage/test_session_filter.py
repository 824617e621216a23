"""A session's /filter on every engine (JSON files, SQLite, PostgreSQL): stored with the
session, and absent (None) in a session saved before filters were kept."""

from __future__ import annotations

import json

import attrs
import trio

from musicbot.models.queue import Queue
from musicbot.storage import SessionSnapshot, Storage
from musicbot.storage.models import SESSION_CODEC
from tests.storage.test_sessions import snap

TIMEOUT = 30


def _session(
    guild_id: int, preset: str | None = None, amount: int | None = None
) -> SessionSnapshot:
    return attrs.evolve(
        snap(guild_id, tracks=0),
        queue=Queue().snapshot(),
        filter_preset=preset,
        filter_amount=amount,
    )


async def test_the_filter_round_trips(any_storage: Storage) -> None:
    saved = _session(92, "speed", 150)
    with trio.fail_after(TIMEOUT):
        await any_storage.sessions().save(saved)
        loaded = await any_storage.sessions().load(92)
    assert loaded == saved


def test_a_session_from_before_filters_loads_without_one() -> None:
    doc = json.loads(SESSION_CODEC.encode(_session(93)))
    for key in ("filter_preset", "filter_amount"):
        del doc["data"][key]
    old = SESSION_CODEC.decode(json.dumps(doc).encode())
    assert old == _session(93)
    assert (old.filter_preset, old.filter_amount) == (None, None)
