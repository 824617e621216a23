"""A session's /filter on every engine (JSON files, SQLite, PostgreSQL): stored with the
session, and absent (None) in a session saved before filters were kept."""

from __future__ import annotations

import json

import trio

from musicbot.models.queue import Queue
from musicbot.storage import SessionSnapshot, Storage
from musicbot.storage.models import SESSION_CODEC

TIMEOUT = 30


def _session(guild_id: int, **kw: object) -> SessionSnapshot:
    return SessionSnapshot(
        guild_id=guild_id,
        voice_channel_id=10,
        text_channel_id=None,
        queue=Queue().snapshot(),
        position=0.0,
        repeat_mode="off",
        volume=100,
        stay_24_7=False,
        saved_at=1_700_000_000.0,
        **kw,  # type: ignore[arg-type]
    )


async def test_the_filter_round_trips(any_storage: Storage) -> None:
    snap = _session(92, filter_preset="speed", filter_amount=150)
    with trio.fail_after(TIMEOUT):
        await any_storage.sessions().save(snap)
        loaded = await any_storage.sessions().load(92)
    assert loaded == snap


def test_a_session_from_before_filters_loads_without_one() -> None:
    doc = json.loads(SESSION_CODEC.encode(_session(93)))
    for key in ("filter_preset", "filter_amount"):
        del doc["data"][key]
    old = SESSION_CODEC.decode(json.dumps(doc).encode())
    assert old == _session(93)
    assert (old.filter_preset, old.filter_amount) == (None, None)
