"""Autoplay's stored fields on every engine (JSON files, SQLite, PostgreSQL): the guild's
setting, and the autoplay mark of queue entries in a saved session; a saved playlist keeps
the track but not the mark."""

from __future__ import annotations

import trio

from musicbot.models.queue import Queue
from musicbot.models.track import Track
from musicbot.storage import GuildSettings, SessionSnapshot, Storage, StoredTrack

TIMEOUT = 30


async def test_the_autoplay_setting_round_trips(any_storage: Storage) -> None:
    with trio.fail_after(TIMEOUT):
        store = any_storage.guild_settings(90)
        assert (await store.load()).autoplay is False
        await store.save(GuildSettings(autoplay=True, fair_queue=True))
        assert await any_storage.guild_settings(90).load() == GuildSettings(
            autoplay=True, fair_queue=True
        )
        await store.save(GuildSettings())
        assert (await any_storage.guild_settings(90).load()).autoplay is False


async def test_the_autoplay_mark_of_a_queued_entry_survives_a_session(
    any_storage: Storage,
) -> None:
    queue = Queue()
    queue.add(Track(title="Asked for", webpage_url="https://a.example/1", requester_id=5))
    queue.add(Track(title="Related", webpage_url="https://a.example/2", autoplay=True))
    queue.advance()
    snap = SessionSnapshot(
        guild_id=91,
        voice_channel_id=10,
        text_channel_id=None,
        queue=queue.snapshot(),
        position=1.5,
        repeat_mode="off",
        volume=100,
        stay_24_7=False,
        saved_at=1_700_000_000.0,
    )
    with trio.fail_after(TIMEOUT):
        await any_storage.sessions().save(snap)
        loaded = await any_storage.sessions().load(91)
    assert loaded is not None
    back = Queue.restore(loaded.queue)
    assert [(t.title, t.autoplay) for t in back] == [("Asked for", False), ("Related", True)]
    # A session saved before autoplay existed (no such key) loads with the mark off.
    old = queue.snapshot()
    for entry in old["tracks"]:
        del entry["autoplay"]
    assert [t.autoplay for t in Queue.restore(old)] == [False, False]
    # Saved into a playlist, a related track is just a track.
    stored = StoredTrack.from_track(back.at(1))
    assert stored.to_track().autoplay is False and stored.webpage_url == "https://a.example/2"
