"""Spotify links through the emulator, against a local fake Web API (``fake_spotify``).

A track link is mirrored from the media server's search just before it plays (the listener
hears the right tone); albums and playlists queue every playable entry within the import
limit; missing keys, unknown links, a Spotify that is down or refuses the keys, and a track
with no fitting search result are each answered clearly, in English and Vietnamese; only the
fake's own host is ever asked, and the secret and the token reach no log, message or worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from tests.e2e.fake_spotify import CLIENT_SECRET, fake_spotify, sid, track_obj
from tests.e2e.flow import config, frames_after, tone_of, user, wait_message
from tests.e2e.harness import Stack, stack, subcommand
from tests.test_procenv import children_of

A440 = track_obj("Tone A440", "Tuning Fork", 6.0, isrc="USTF10000440")
E660 = track_obj("Tone E660", "Tuning Fork", 6.0)
C880 = track_obj("Tone C880", "Tuning Fork", 4.0)
SILENT = track_obj("Silent Night", "Nobody", 100.0)  # the media server has nothing like it
LONG_A440 = track_obj("Tone A440", "Wrong Length", 60.0)  # found, but 54 s too long


def _link(track: dict[str, object], prefix: str = "") -> str:
    return f"https://open.spotify.com/{prefix}track/{track['id']}"


async def _hears(s: Stack, frequency: float) -> None:
    start = len(s.listener.frames)
    heard = tone_of(await frames_after(s, start, 60))
    assert abs(heard - frequency) < 15, heard


def _worker_pids() -> list[int]:
    """The extractor's worker processes (children of this test process)."""
    children = children_of(os.getpid())
    return [pid for pid in children if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]


async def test_a_track_link_plays_its_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The secret is in the bot's environment too: no worker may inherit it.
    monkeypatch.setenv("MUSICBOT_SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    with trio.fail_after(30), capture_logs() as logs:
        async with fake_spotify(tracks={A440["id"]: A440, E660["id"]: E660}) as sp:
            async with stack(tmp_path, config=config(spotify=sp.config())) as s:
                me = user(s)
                link = _link(A440, "intl-fr/") + "?si=0123abcd"
                answer = await me.ask("play", {"query": link})
                assert (
                    answer == "Added **Tuning Fork – Tone A440** (0:06) to the queue at position 1."
                )
                await _hears(s, 440.0)
                # ISRC first, then artist and title, then the title: the media server knows it
                # only by its title, and its length fits Spotify's.
                assert s.media.searches == ['"USTF10000440"', "Tuning Fork Tone A440", "Tone A440"]
                now = await me.ask("nowplaying")
                assert "Tuning Fork – Tone A440" in now
                # The Spotify link stays the entry's identity (saved playlists, sessions), and
                # /playlist add takes Spotify links too.
                assert "Saved 1 track" in await _pl(s, "save", name="Kept")
                added = await _pl(s, "add", name="Kept", query=_link(E660))
                assert "Added **Tuning Fork – Tone E660** to **Kept**" in added
                stored = await s.app.storage.guild_playlists(s.guild.id).load("Kept")
                assert [t.webpage_url for t in stored.tracks] == [_link(A440), _link(E660)]
                pids = _worker_pids()
                assert pids
                for pid in pids:
                    for name in ("environ", "cmdline"):
                        raw = Path(f"/proc/{pid}/{name}").read_bytes()
                        assert CLIENT_SECRET.encode() not in raw
                        assert all(t.encode() not in raw for t in sp.issued)
                assert s.emu.rest is not None
                sent = json.dumps([r.json for r in s.emu.rest.requests])
            # Only the fake's own host, and only the token and the one track were asked.
            assert {r.host for r in sp.requests} == {sp.host}
            assert [r.path for r in sp.requests] == [
                "/api/token",
                f"/v1/tracks/{A440['id']}",
                f"/v1/tracks/{E660['id']}",
            ]
            tokens = list(sp.issued)
    assert f"https://open.spotify.com/track/{A440['id']}" in sent  # the saved playlist
    assert "spotify_mirrored" in {e["event"] for e in logs}  # the bot's events were seen
    events = repr(logs)
    for secret in (CLIENT_SECRET, *tokens):
        assert secret not in sent and secret not in events


async def _pl(s: Stack, sub: str, **options: object) -> str:
    options_list = subcommand(sub, **options)
    record = s.emu.command(
        s.guild.id, s.user.user_id, "playlist", options_list, channel_id=s.text_channel
    )
    return await s.answer(record)


async def test_albums_and_playlists_queue_every_entry(tmp_path: Path) -> None:
    tracks = [A440, E660, C880]
    with trio.fail_after(30):
        async with fake_spotify(page_size=2) as sp:
            album = sp.add_album("Tuning Forks", tracks)
            junk = [{"track": None}, {**track_obj("Mine", "Me", 5.0), "is_local": True}]
            episode = {"track": {**track_obj("Talk", "Host", 5.0), "type": "episode"}}
            mix = sp.add_playlist("Mix", [*junk, episode, C880, A440, E660])
            cfg = config(spotify=sp.config(), limits={"max_playlist_import": 2})
            async with stack(tmp_path, config=cfg) as s:
                me = user(s)
                answer = await me.ask("play", {"query": f"spotify:album:{album}"})
                assert answer == "Added 2 tracks from **Tuning Forks** to the queue. " + (
                    "Only the first 2 entries were imported."
                )
                await _hears(s, 440.0)
                await me.ask("skip")
                await _hears(s, 660.0)  # an album entry: its ISRC was asked for just now
                link = f"https://open.spotify.com/playlist/{mix}?si=x"
                answer = await me.ask("play", {"query": link}, locale="vi")
                assert answer == "Đã thêm 2 bài từ **Mix** vào hàng chờ. " + (
                    "Chỉ 2 bài đầu tiên được thêm vào."
                )
                queue = await me.ask("queue")
                assert "Tuning Fork – Tone C880" in queue and "Tuning Fork – Tone A440" in queue
            # The first album page was enough for the limit; each entry's full track (its
            # ISRC) was asked for when it came to play; the playlist took three pages.
            # (C880 may have come to play before the stack stopped: its track too.)
            targets = [r.target for r in sp.api_requests()]
            assert [t for t in targets if t != f"/v1/tracks/{C880['id']}"] == [
                f"/v1/albums/{album}",
                f"/v1/tracks/{A440['id']}",
                f"/v1/tracks/{E660['id']}",
                f"/v1/playlists/{mix}",
                f"/v1/playlists/{mix}/tracks?offset=2&limit=2",
                f"/v1/playlists/{mix}/tracks?offset=4&limit=2",
            ]
            assert {r.host for r in sp.requests} == {sp.host}


async def test_without_keys_the_operator_is_named(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            answer = await me.ask("play", {"query": _link(A440)})
            assert answer == (
                "Spotify links need the bot operator to set [spotify] client_id and "
                "client_secret first."
            )
            answer = await me.ask("play", {"query": f"spotify:track:{A440['id']}"}, locale="vi")
            assert answer == (
                "Muốn phát liên kết Spotify, người quản lý bot cần đặt [spotify] client_id và "
                "client_secret trước."
            )
            assert s.media.searches == []


async def test_unknown_links_and_a_spotify_that_is_down_or_refuses(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with fake_spotify(tracks={A440["id"]: A440, E660["id"]: E660}) as sp:
            async with stack(tmp_path, config=config(spotify=sp.config())) as s:
                me = user(s)
                missing = f"https://open.spotify.com/album/{sid('gone')}"
                answer = await me.ask("play", {"query": missing})
                assert answer == (
                    "Spotify doesn't know this link, or there is nothing in it I can play."
                )
                answer = await me.ask(
                    "play", {"query": missing.replace("album", "track")}, locale="vi"
                )
                assert answer == (
                    "Spotify không biết liên kết này, hoặc trong đó không có bài nào mình "
                    "phát được."
                )
                sp.down = 503
                answer = await me.ask("play", {"query": _link(A440)})
                assert answer == "Spotify can't be reached right now. Try again later."
                # The keys stop working: the 401 renews the token once, which is refused.
                sp.down = None
                sp.revoke()
                sp.client_secret = "anothersecret0000"
                answer = await me.ask("play", {"query": _link(E660)}, locale="vi")
                assert answer == "Hiện không kết nối được Spotify. Thử lại sau nhé."
                assert len(sp.token_requests()) == 2  # the first, and the refused renewal
                assert s.media.searches == []
            assert {r.host for r in sp.requests} == {sp.host}


async def test_a_track_without_a_match_is_announced_and_the_queue_goes_on(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        async with fake_spotify(page_size=10) as sp:
            mix = sp.add_playlist("Odd ones", [SILENT, LONG_A440, A440])
            async with stack(tmp_path, config=config(spotify=sp.config())) as s:
                me = user(s)
                answer = await me.ask("play", {"query": f"https://open.spotify.com/playlist/{mix}"})
                assert answer == "Added 3 tracks from **Odd ones** to the queue."
                where = s.media.url("").removeprefix("http://").rstrip("/")
                await wait_message(
                    s,
                    f"Couldn't play **Nobody – Silent Night**: I found no match for it on {where}. "
                    "Moving on.",
                )
                await wait_message(
                    s, "Couldn't play **Wrong Length – Tone A440**: I found no match"
                )
                await _hears(s, 440.0)
                assert s.media.searches[:2] == ["Nobody Silent Night", "Silent Night"]
                # "Wrong Length Tone A440" finds nothing; "Tone A440" finds a tone 54 s short.
                assert s.media.searches[2:5] == [
                    "Wrong Length Tone A440",
                    "Tone A440",
                    '"USTF10000440"',
                ]


async def test_autoplay_after_a_spotify_track_follows_its_mirror(tmp_path: Path) -> None:
    # The related-tracks provider (like YouTube's mix) knows the mirror's page, not the
    # Spotify link; and the mirror is the song that just played, not a related one.
    with trio.fail_after(60), capture_logs() as logs:
        async with (
            fake_spotify(tracks={A440["id"]: A440}) as sp,
            stack(tmp_path, config=config(spotify=sp.config())) as s,
        ):
            me = user(s)
            start = len(s.listener.frames)
            await me.ask("play", {"query": _link(A440)})
            await _hears(s, 440.0)
            assert (await me.ask("autoplay", {"mode": "on"})).startswith("Autoplay is now on")
            await s.voice.wait_until(lambda: bool(s.media.related))
            mirrored = [e["mirror"] for e in logs if e["event"] == "spotify_mirrored"]
            assert s.media.related == mirrored == [s.media.media_url("a440")]
            # A440's 6 s (300 frames), then the first related tone that is not the mirror.
            packets = await frames_after(s, start, 400)
            assert abs(tone_of(packets[320:390]) - 660.0) < 15
            shown = await me.ask("queue")
            playing = next(x for x in shown.splitlines() if x.startswith("**Now playing:**"))
            assert "Tone E660" in playing and "autoplay" in playing, shown
