"""The Spotify client against a local fake Web API, and the pure parts of the mirror.

Token caching and renewal, paging within the import limit, 429s, hosts the client refuses to
follow (a foreign ``next`` link, a redirect), and the secret and the token kept out of every
repr, error text, log event and child environment.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import structlog
import trio
from structlog.testing import capture_logs

from actors.extractor import spotify as spotify_work
from actors.extractor.messages import Extract, Resolve
from actors.extractor.work import cache_key
from musicbot import config
from musicbot.config import Secret, SpotifyConfig
from musicbot.errors import ConfigError
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.models.track import Track
from musicbot.procenv import child_env, forget_secrets
from musicbot.spotify import (
    NoMatch,
    SpotifyClient,
    SpotifyRef,
    closest,
    mirror_queries,
    parse_link,
    parse_track,
    provider_name,
    tolerance,
)
from tests.e2e.fake_spotify import CLIENT_SECRET, FakeSpotify, fake_spotify, sid, track_obj

TIMEOUT = 20
A440 = track_obj("Tone A440", "Tuning Fork", 6.0, isrc="USTF10000440")


def _client(fake: FakeSpotify, **extra: object) -> SpotifyClient:
    section = {**fake.config(), **extra}
    cfg = config.build({"spotify": section}, environ={}).spotify
    return SpotifyClient(cfg)


def _track(title: str, duration: float | None, *, live: bool = False) -> Track:
    return Track(title=title, webpage_url=f"http://x/{title}", duration=duration, is_live=live)


# ------------------------------------------------------------------ links and tracks


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC", "track"),
        ("https://open.spotify.com/intl-fr/track/4uLU6hMCjMI75M1A2tKUQC?si=abc123", "track"),
        ("https://open.spotify.com/intl-pt-BR/album/4uLU6hMCjMI75M1A2tKUQC", "album"),
        ("open.spotify.com/playlist/4uLU6hMCjMI75M1A2tKUQC/?si=x#y", "playlist"),
        ("https://open.spotify.com/embed/track/4uLU6hMCjMI75M1A2tKUQC", "track"),
        ("  spotify:track:4uLU6hMCjMI75M1A2tKUQC ", "track"),
        ("spotify:playlist:4uLU6hMCjMI75M1A2tKUQC", "playlist"),
    ],
)
def test_links_and_uris_name_their_track_album_or_playlist(text: str, kind: str) -> None:
    ref = parse_link(text)
    assert ref == SpotifyRef(kind, "4uLU6hMCjMI75M1A2tKUQC")  # type: ignore[arg-type]
    assert ref.url == f"https://open.spotify.com/{kind}/4uLU6hMCjMI75M1A2tKUQC"


@pytest.mark.parametrize(
    "text",
    [
        "https://open.spotify.com/artist/4uLU6hMCjMI75M1A2tKUQC",
        "https://open.spotify.com/track/short",
        "https://open.spotify.com.evil.example/track/4uLU6hMCjMI75M1A2tKUQC",
        "https://evil.example/open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
        "spotify:episode:4uLU6hMCjMI75M1A2tKUQC",
        "tone a440",
    ],
)
def test_other_links_and_words_are_not_spotify(text: str) -> None:
    assert parse_link(text) is None


def test_a_track_becomes_an_unresolved_queue_track() -> None:
    found = parse_track(A440)
    assert found is not None and found.isrc == "USTF10000440" and found.duration == 6.0
    track = found.to_track()
    assert track.title == "Tuning Fork – Tone A440"
    assert track.webpage_url == f"https://open.spotify.com/track/{A440['id']}"
    assert track.uploader == "Tuning Fork" and track.duration == 6.0 and not track.resolved
    assert track.thumbnail == "https://i.scdn.example/cover.jpg"
    two = parse_track(track_obj("Duet", ("One", "Two"), 3.0, image=None), image="album.jpg")
    assert two is not None and two.title == "One, Two – Duet" and two.image == "album.jpg"
    for junk in (None, "x", {**A440, "is_local": True}, {**A440, "type": "episode"}, {"id": 1}):
        assert parse_track(junk) is None


def test_mirror_queries_and_the_closest_length() -> None:
    found = parse_track(A440)
    assert found is not None
    assert mirror_queries(found) == ('"USTF10000440"', "Tuning Fork Tone A440", "Tone A440")
    assert tolerance(6.0) == 2.0 and tolerance(180.0) == 15.0 and tolerance(100.0) == 10.0
    far, near, unknown = _track("far", 200.0), _track("near", 184.0), _track("?", None)
    assert closest([far, unknown, near], 180.0) is near
    assert closest([far, unknown], 180.0) is unknown  # unknown length: only as a last resort
    assert closest([far, _track("live", 180.0, live=True)], 180.0) is None
    assert closest([far], None) is far
    cfg = config.ExtractorConfig
    assert provider_name(cfg()) == "YouTube"
    assert provider_name(cfg(search_provider="http://127.0.0.1:9/search?q={query}")) == (
        "127.0.0.1:9"
    )
    no_match = NoMatch(Reason.NO_MATCH, "detail", where="YouTube")
    assert no_match.text() == "I found no match for it on YouTube."
    assert no_match.text("vi") == "Mình không tìm thấy bài nào khớp trên YouTube."
    assert ExtractionError(Reason.SPOTIFY_UNCONFIGURED).text().startswith("Spotify links need")


def test_flight_and_cache_keys_stay_apart_from_links_and_searches() -> None:
    reply: Any = None
    st: Any = None  # the work is only bound here, not run
    track = parse_track(A440)
    assert track is not None
    queued = track.to_track()
    keys = []
    for msg in (
        Extract(query=_link_of(queued, "intl-de/") + "?si=1", requester_id=1, reply=reply),
        Resolve(track=queued, force=False, reply=reply),
        Resolve(track=queued, force=True, reply=reply),
    ):
        planned = spotify_work.plan(st, msg)
        assert planned is not None
        keys.append((planned[0], planned[2]))
    ident = A440["id"]
    assert keys == [
        (f"spotify:track:{ident}", True),
        (f"spotify:mirror:{ident}", True),
        (f"spotify!:mirror:{ident}", False),  # forced: apart in flight, the same cache entry
    ]
    assert cache_key(f"spotify!:mirror:{ident}") == f"spotify:mirror:{ident}"
    assert cache_key("search:ytsearch5:spotify!:x") == "search:ytsearch5:spotify!:x"
    other = Track(title="t", webpage_url="https://example.com/a")
    assert spotify_work.plan(st, Resolve(track=other, force=False, reply=reply)) is None
    assert spotify_work.plan(st, Extract(query="tone", requester_id=1, reply=reply)) is None


def _link_of(track: Track, prefix: str) -> str:
    return track.webpage_url.replace("open.spotify.com/", f"open.spotify.com/{prefix}")


# ------------------------------------------------------------------ the client


async def test_the_token_is_cached_and_renewed_after_expiry_or_a_401() -> None:
    now = [1000.0]
    with trio.fail_after(TIMEOUT):
        async with fake_spotify(tracks={A440["id"]: A440}, expires_in=3600) as fake:
            client = attrs.evolve(_client(fake), clock=lambda: now[0])
            for _ in range(3):
                assert (await client.track(A440["id"])).name == "Tone A440"
            assert len(fake.token_requests()) == 1 and client.tokens_fetched == 1
            token = fake.token_requests()[0]
            assert token.method == "POST" and "grant_type=client_credentials" in token.body
            assert {r.authorization for r in fake.api_requests()} == {f"Bearer {fake.issued[0]}"}
            # Shortly before Spotify's expiry a new one is asked for.
            now[0] += 3600 - 30
            await client.track(A440["id"])
            assert client.tokens_fetched == 2
            # Revoked: the 401 renews it once and the request goes through.
            fake.revoke()
            await client.track(A440["id"])
            assert client.tokens_fetched == 3
            # A 401 again after the renewal: Spotify refuses us.
            fake.script = [(401, {}), (401, {})]
            with pytest.raises(ExtractionError) as info:
                await client.track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            assert client.tokens_fetched == 4
            assert {r.host for r in fake.requests} == {fake.host}


async def test_albums_and_playlists_are_paged_within_the_import_limit() -> None:
    tracks = [track_obj(f"Song {n}", "Band", 100.0 + n, isrc=f"USAB1000000{n}") for n in range(5)]
    with trio.fail_after(TIMEOUT):
        async with fake_spotify(page_size=2) as fake:
            album = fake.add_album("Five", tracks)
            listed = await _client(fake).listing(SpotifyRef("album", album), cap=10)
            assert [t.name for t in listed.tracks] == [f"Song {n}" for n in range(5)]
            assert not listed.truncated and listed.title == "Five"
            assert all(t.image == "https://i.scdn.example/album.jpg" for t in listed.tracks)
            assert all(t.isrc is None for t in listed.tracks)  # album pages carry none
            paths = [r.target for r in fake.api_requests()]
            assert paths == [
                f"/v1/albums/{album}",
                f"/v1/albums/{album}/tracks?offset=2&limit=2",
                f"/v1/albums/{album}/tracks?offset=4&limit=2",
            ]
            # The cap stops the paging early and says the list was cut.
            fake.requests.clear()
            listed = await _client(fake).listing(SpotifyRef("album", album), cap=3)
            assert len(listed.tracks) == 3 and listed.truncated
            assert len(fake.api_requests()) == 2

            local = {**track_obj("Mine", "Me", 10.0), "is_local": True}
            episode = {**track_obj("Talk", "Host", 10.0), "type": "episode"}
            items = [tracks[0], {"track": None}, local, {"track": episode}, tracks[1]]
            playlist = fake.add_playlist("Mixed", items)
            listed = await _client(fake).listing(SpotifyRef("playlist", playlist), cap=10)
            assert [t.name for t in listed.tracks] == ["Song 0", "Song 1"]
            assert listed.tracks[0].isrc == "USAB10000000"
            empty = fake.add_playlist("Empty", [{"track": None}])
            with pytest.raises(ExtractionError) as info:
                await _client(fake).listing(SpotifyRef("playlist", empty), cap=10)
            assert info.value.reason is Reason.SPOTIFY_NOT_FOUND


async def test_a_short_429_is_waited_out_and_a_long_one_is_not() -> None:
    with trio.fail_after(TIMEOUT):
        async with fake_spotify(tracks={A440["id"]: A440}) as fake:
            client = _client(fake)
            fake.script = [(429, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]
            assert (await client.track(A440["id"])).name == "Tone A440"
            assert len(fake.api_requests()) == 3
            # An hour's wait is not waited: the member hears at once that Spotify is busy.
            fake.script = [(429, {"Retry-After": "3600"})]
            with trio.fail_after(2), pytest.raises(ExtractionError) as info:
                await client.track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            # Three short ones in a row: given up after two retries.
            fake.script = [(429, {"Retry-After": "0"})] * 3
            with pytest.raises(ExtractionError):
                await client.track(A440["id"])
            assert fake.script == []


async def test_only_the_configured_hosts_are_asked() -> None:
    tracks = [track_obj(f"Song {n}", "Band", 100.0) for n in range(4)]
    with trio.fail_after(TIMEOUT):
        async with fake_spotify(page_size=2) as fake, fake_spotify() as elsewhere:
            album = fake.add_album("Four", tracks)
            # A next link to another host ends the listing; that host hears nothing.
            fake.foreign_next = elsewhere.api_base
            with capture_logs() as logs:
                listed = await _client(fake).listing(SpotifyRef("album", album), cap=10)
            assert [t.name for t in listed.tracks] == ["Song 0", "Song 1"]
            assert any(e["event"] == "spotify_next_refused" for e in logs)
            # The same host on another port is another host.
            fake.foreign_next = f"http://127.0.0.1:{elsewhere.port}/v1"
            await _client(fake).listing(SpotifyRef("album", album), cap=10)
            # A redirect is not followed.
            fake.foreign_next = ""
            fake.redirect_to = elsewhere.api_base + f"/albums/{album}"
            with pytest.raises(ExtractionError) as info:
                await _client(fake).listing(SpotifyRef("album", album), cap=10)
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            assert elsewhere.requests == []
            assert {r.host for r in fake.requests} == {fake.host}


async def test_failures_are_typed() -> None:
    with trio.fail_after(TIMEOUT):
        async with fake_spotify(tracks={A440["id"]: A440}) as fake:
            with pytest.raises(ExtractionError) as info:
                await _client(fake).track(sid("nothing"))
            assert info.value.reason is Reason.SPOTIFY_NOT_FOUND
            fake.down = 500
            with pytest.raises(ExtractionError) as info:
                await _client(fake).track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            fake.down = None
            asked = len(fake.api_requests())
            with pytest.raises(ExtractionError) as info:  # wrong secret: the token is refused
                await _client(fake, client_secret="wrongsecret123").track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            assert len(fake.api_requests()) == asked
            with pytest.raises(ExtractionError) as info:
                await SpotifyClient(SpotifyConfig(api_base=fake.api_base)).track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNCONFIGURED
            fake.hang = True
            with trio.fail_after(5), pytest.raises(ExtractionError) as info:
                await _client(fake, timeout=0.5).track(A440["id"])
            assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE
            assert "0.5 s" in str(info.value)
    with trio.fail_after(TIMEOUT), pytest.raises(ExtractionError) as info:  # nobody listens
        await _client(fake).track(A440["id"])
    assert info.value.reason is Reason.SPOTIFY_UNAVAILABLE


async def test_the_secret_and_the_token_appear_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    structlog.get_logger("musicbot.spotify")
    with trio.fail_after(TIMEOUT), capture_logs() as logs:
        async with fake_spotify(tracks={A440["id"]: A440}) as fake:
            client = _client(fake)
            await client.track(A440["id"])
            fake.revoke()
            fake.script = [(429, {"Retry-After": "0"})]
            await client.track(A440["id"])
            errors = []
            for fault in (500, 404, 401):
                fake.down = fault
                client._token = Secret("")  # force the token endpoint to be asked again
                with pytest.raises(ExtractionError) as info:
                    await client.track(A440["id"])
                errors.append(info.value)
            tokens = list(fake.issued)
    assert len(tokens) == 2
    secrets = [CLIENT_SECRET, *tokens]
    shown = [repr(client), str(client), repr(client.config), repr(_cfg_of(client))]
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    shown += [e.text(locale) for e in errors for locale in ("en", "vi")]
    shown += [repr(event) for event in logs]
    for text in shown:
        for secret in secrets:
            assert secret not in text, text
    assert "spotify_token_refused" in {e["event"] for e in logs}
    # Rendered config, a config problem and a child's environment hide it too.
    assert CLIENT_SECRET not in config.render(_cfg_of(client))
    with pytest.raises(ConfigError) as bad:
        config.build({"spotify": {"client_secret": "has spaces " + CLIENT_SECRET}}, environ={})
    assert CLIENT_SECRET not in str(bad.value) and "spotify.client_secret" in str(bad.value)
    monkeypatch.setenv("MUSICBOT_SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    from_env = config.build(
        {"spotify": {"client_id": "abc123"}},
        environ={"MUSICBOT_SPOTIFY_CLIENT_SECRET": CLIENT_SECRET},
    )
    assert from_env.spotify.client_secret.value == CLIENT_SECRET
    assert CLIENT_SECRET in from_env.secrets()  # the log redactor removes it
    assert CLIENT_SECRET not in repr(from_env)
    assert CLIENT_SECRET not in repr(child_env())
    assert "MUSICBOT_SPOTIFY_CLIENT_SECRET" in forget_secrets()
    assert CLIENT_SECRET not in repr(child_env())


def _cfg_of(client: SpotifyClient) -> config.Config:
    return config.Config(spotify=client.config)


def test_spotify_config_is_validated_with_the_key_and_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        config.build(
            {
                "spotify": {
                    "api_base": "api.spotify.com",
                    "accounts_base": 3,
                    "timeout": 0,
                    "client_id": "not an id!",
                    "cliend_secret": "x",
                }
            },
            environ={},
        )
    lines = [str(p) for p in info.value.problems]
    assert "spotify.api_base: must start with http:// or https:// (got 'api.spotify.com')" in lines
    assert "spotify.accounts_base: must be a string (got 3)" in lines
    assert "spotify.timeout: must be between 0.5 and 120 (got 0)" in lines
    assert any(line.startswith("spotify.client_id: must be the Client ID") for line in lines)
    assert "spotify.cliend_secret: unknown key; did you mean 'client_secret'?" in lines
    with pytest.raises(ConfigError) as info:
        config.build({"spotify": {"client_id": "abc123"}}, environ={})
    assert str(info.value.problems[0]).startswith(
        "spotify.client_secret: must be set too when client_id is"
    )
    with pytest.raises(ConfigError) as info:
        config.build({}, environ={"MUSICBOT_SPOTIFY_CLIENT_SECRET": CLIENT_SECRET})
    assert str(info.value.problems[0]).startswith("spotify.client_id: must be set too")
    default = config.build({}, environ={}).spotify
    assert default == SpotifyConfig() and not default.configured
    assert default.api_base == "https://api.spotify.com/v1"
    env = {
        "MUSICBOT_SPOTIFY_CLIENT_ID": "abc123",
        "MUSICBOT_SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "MUSICBOT_SPOTIFY_TIMEOUT": "3",
    }
    from_env = config.build({}, environ=env).spotify
    assert from_env.timeout == 3.0 and from_env.configured
