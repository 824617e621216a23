"""Spotify links: the Web API's client-credentials flow, and choosing a playable mirror.

Theory.  Spotify streams nothing to a bot, so a Spotify link is *metadata*: ``/play`` with an
``open.spotify.com`` track, album or playlist link (or a ``spotify:track:…`` URI; ``intl-xx/``
prefixes and ``?si=`` queries are ignored) asks the Web API for the tracks and queues each as an
unresolved :class:`~musicbot.models.track.Track` whose ``webpage_url`` is the canonical Spotify
link (saved playlists and sessions keep that identity).  Just before one plays, the extractor
*mirrors* it (``actors.extractor.spotify``): it searches the configured search provider, first
for the ISRC (``"USRC17607839"``), then for "artist title", then (only when that found nothing
at all) for the title alone, and takes the candidate whose length is closest to Spotify's
``duration_ms`` within :func:`tolerance`.

The client (:class:`SpotifyClient`) gets an access token with HTTP Basic ``client_id:
client_secret`` (``POST {accounts_base}/api/token``), keeps it until shortly before
``expires_in``, and asks for a fresh one once when the API answers 401.  A 429 is waited out
when its ``Retry-After`` is short (``MAX_RETRY_AFTER``, at most ``MAX_RETRIES`` times), else it
is an unavailable service.  Every request is bounded by ``[spotify] timeout`` and ``MAX_BODY``;
only ``api_base`` and ``accounts_base`` are contacted: no redirect is followed and a paging
``next`` link elsewhere ends the listing (:mod:`musicbot.webapi`).  The secret and the token
live in :class:`~musicbot.config.Secret` s: no repr, log line, error text or child process sees
them (the HTTP calls run in the extractor actor's task, never in a worker process).
"""

from __future__ import annotations

import base64
import collections
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs
import httpx
import structlog
import trio

from musicbot.config import ExtractorConfig, Secret, SpotifyConfig
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.i18n import register, t
from musicbot.models.track import Track
from musicbot.webapi import BodyTooLarge, on_base, pinned_client, read_body

log = structlog.get_logger(__name__)

Kind = Literal["track", "album", "playlist"]

MAX_BODY: Final = 4 << 20  # bytes of one API answer (a 100-item playlist page is ~300 KB)
MAX_RETRY_AFTER: Final = 5.0  # seconds of a 429's Retry-After we wait out; longer: unavailable
MAX_RETRIES: Final = 2  # 429s waited out per request
TOKEN_MARGIN: Final = 60.0  # a token is renewed this long before Spotify says it expires
KNOWN_TRACKS: Final = 10_000  # listed tracks remembered for their mirror search (ISRC)
CANONICAL: Final = "https://open.spotify.com"

_ID = r"[A-Za-z0-9]{22}"  # Spotify ids are 22 base-62 characters
_LINK: Final = re.compile(
    rf"^(?:https?://)?open\.spotify\.com/(?:intl-[a-z]{{2}}(?:[-_][a-z]{{2,4}})?/)?"
    rf"(?:embed/)?(track|album|playlist)/({_ID})/?(?:[?#].*)?$",
    re.I,
)
_URI: Final = re.compile(rf"^spotify:(track|album|playlist):({_ID})$", re.I)
_ISRC: Final = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")


register(
    {
        "extract.spotify_unconfigured": (
            "Spotify links need the bot operator to set [spotify] client_id and "
            "client_secret first."
        ),
        "extract.spotify_not_found": (
            "Spotify doesn't know this link, or there is nothing in it I can play."
        ),
        "extract.spotify_unavailable": "Spotify can't be reached right now. Try again later.",
        "extract.no_match": "I found no match for it.",
        "spotify.no_match_on": "I found no match for it on {where}.",
    },
    {
        "extract.spotify_unconfigured": (
            "Muốn phát liên kết Spotify, người quản lý bot cần đặt [spotify] client_id và "
            "client_secret trước."
        ),
        "extract.spotify_not_found": (
            "Spotify không biết liên kết này, hoặc trong đó không có bài nào mình phát được."
        ),
        "extract.spotify_unavailable": "Hiện không kết nối được Spotify. Thử lại sau nhé.",
        "extract.no_match": "Mình không tìm thấy bài nào khớp.",
        "spotify.no_match_on": "Mình không tìm thấy bài nào khớp trên {where}.",
    },
)


@attrs.define(auto_exc=True, eq=False)
class NoMatch(ExtractionError):
    """No search result fits a Spotify track; ``where`` names the search provider."""

    where: str = ""

    def text(self, locale: str | None = None) -> str:
        """ "I found no match for it on <where>." in ``locale``."""
        if not self.where:
            return super().text(locale)
        return t("spotify.no_match_on", locale, where=self.where)


def _unavailable(detail: str) -> ExtractionError:
    return ExtractionError(Reason.SPOTIFY_UNAVAILABLE, detail)


def _not_found(detail: str) -> ExtractionError:
    return ExtractionError(Reason.SPOTIFY_NOT_FOUND, detail)


# ------------------------------------------------------------------ links and tracks


@attrs.frozen
class SpotifyRef:
    """What a Spotify link names: a track, an album or a playlist, by id."""

    kind: Kind
    id: str

    @property
    def url(self) -> str:
        """The canonical link, the identity of a queued Spotify track."""
        return f"{CANONICAL}/{self.kind}/{self.id}"


def parse_link(text: str) -> SpotifyRef | None:
    """The track, album or playlist an ``open.spotify.com`` link or ``spotify:`` URI names;
    None for anything else."""
    s = text.strip()
    m = _LINK.match(s) or _URI.match(s)
    if m is None:
        return None
    kind = m.group(1).lower()
    assert kind in ("track", "album", "playlist")
    return SpotifyRef(kind, m.group(2))  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class SpotifyTrack:
    """A track as the Web API describes it (what the mirror search needs)."""

    id: str
    name: str
    artists: tuple[str, ...]
    duration: float | None  # seconds
    isrc: str | None = None
    image: str | None = None

    @property
    def title(self) -> str:
        """``Artist – Title``, the queue's name for it."""
        return f"{', '.join(self.artists)} – {self.name}" if self.artists else self.name

    def to_track(self) -> Track:
        """The unresolved queue track (mirrored when it is about to play)."""
        return Track(
            title=self.title,
            webpage_url=SpotifyRef("track", self.id).url,
            duration=self.duration,
            uploader=", ".join(self.artists) or None,
            thumbnail=self.image,
        )


def _image(images: Any) -> str | None:
    """The largest image's URL (Spotify lists them largest first)."""
    if isinstance(images, list):
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("url"), str):
                return str(image["url"])
    return None


def parse_track(obj: Any, *, image: str | None = None) -> SpotifyTrack | None:
    """A track object (full or simplified) → :class:`SpotifyTrack`; None for what cannot be
    played: a null item, a local file, a podcast episode, a malformed entry."""
    if not isinstance(obj, dict) or obj.get("is_local") is True:
        return None
    if obj.get("type", "track") != "track":
        return None
    track_id, name = obj.get("id"), obj.get("name")
    if not (isinstance(track_id, str) and re.fullmatch(_ID, track_id) and isinstance(name, str)):
        return None
    artists = tuple(
        str(a["name"])
        for a in obj.get("artists") or ()
        if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"]
    )
    ms = obj.get("duration_ms")
    duration = ms / 1000.0 if isinstance(ms, int | float) and ms > 0 else None
    ids = obj.get("external_ids")
    isrc = ids.get("isrc") if isinstance(ids, dict) else None
    isrc = isrc.upper() if isinstance(isrc, str) and _ISRC.match(isrc.upper()) else None
    album = obj.get("album")
    art = _image(album.get("images")) if isinstance(album, dict) else None
    return SpotifyTrack(
        id=track_id, name=name, artists=artists, duration=duration, isrc=isrc, image=art or image
    )


@attrs.frozen(kw_only=True)
class Listing:
    """An album's or a playlist's playable tracks, at most ``cap`` of them."""

    title: str
    url: str
    tracks: tuple[SpotifyTrack, ...]
    truncated: bool


# ------------------------------------------------------------------ the mirror


def mirror_queries(track: SpotifyTrack) -> tuple[str, ...]:
    """Search words, most precise first: the ISRC in quotes, "artist title", the title."""
    out = []
    if track.isrc:
        out.append(f'"{track.isrc}"')
    if track.artists:
        out.append(f"{track.artists[0]} {track.name}")
    out.append(track.name)
    return tuple(dict.fromkeys(q[:200] for q in out))


def tolerance(duration: float) -> float:
    """How far (seconds) a candidate's length may be from Spotify's: 10 %, between 2 s
    (lengths are often rounded to the second) and 15 s."""
    return min(15.0, max(2.0, duration * 0.10))


def closest(candidates: Sequence[Track], duration: float | None) -> Track | None:
    """The candidate whose length is closest to ``duration``; one off by more than
    :func:`tolerance` is rejected, one of unknown length comes after every fitting one."""
    if duration is None:
        return candidates[0] if candidates else None
    best: tuple[float, int, Track] | None = None
    for index, candidate in enumerate(candidates):
        if candidate.is_live:
            continue
        if candidate.duration is None:
            off = float("inf")
        else:
            off = abs(candidate.duration - duration)
            if off > tolerance(duration):
                continue
        if best is None or (off, index) < best[:2]:
            best = (off, index, candidate)
    return best[2] if best is not None else None


def provider_name(cfg: ExtractorConfig) -> str:
    """How a member knows ``[extractor] search_provider``: "YouTube", or the search host."""
    provider = cfg.search_provider
    if provider.startswith(("http://", "https://")):
        return urlsplit(provider).netloc or provider
    names = {"ytsearch": "YouTube", "ytmsearch": "YouTube Music", "scsearch": "SoundCloud"}
    return names.get(provider, provider)


# ------------------------------------------------------------------ the client


@attrs.define(eq=False, repr=False)
class SpotifyClient:
    """The Web API through the client-credentials flow.  Owned by the extractor actor (one
    trio thread); every method raises :class:`~musicbot.extract.errors.ExtractionError` with
    a Spotify reason."""

    config: SpotifyConfig
    clock: Callable[[], float] = trio.current_time
    _token: Secret = attrs.field(default=Secret(""), init=False)
    _expires_at: float = attrs.field(default=0.0, init=False)
    known: collections.OrderedDict[str, SpotifyTrack] = attrs.field(factory=collections.OrderedDict)
    tokens_fetched: int = 0  # for tests and metrics

    def __repr__(self) -> str:
        return f"SpotifyClient(api_base={self.config.api_base!r}, token={self._token!r})"

    # -- one request

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request) -> tuple[int, Any]:
        """(status, parsed JSON or None) of one request within ``[spotify] timeout``."""
        try:
            with trio.fail_after(self.config.timeout):
                response = await client.send(request, stream=True)
                try:
                    status = response.status_code
                    retry_after = response.headers.get("retry-after", "")
                    body = await read_body(response, MAX_BODY) if status < 300 else b""
                finally:
                    await response.aclose()
        except trio.TooSlowError:
            raise _unavailable(f"no answer within {self.config.timeout:g} s") from None
        except BodyTooLarge:
            raise _unavailable("answer too large") from None
        except httpx.HTTPError as exc:
            raise _unavailable(type(exc).__name__) from None
        if status == 429:
            return status, retry_after
        if status >= 300:
            return status, None
        try:
            return status, json.loads(body)
        except ValueError:
            raise _unavailable("an answer that is not JSON") from None

    async def _fetch_token(self, client: httpx.AsyncClient) -> Secret:
        cfg = self.config
        if not cfg.configured:
            raise ExtractionError(Reason.SPOTIFY_UNCONFIGURED, "[spotify] keys not set")
        request = client.build_request(
            "POST",
            cfg.accounts_base.rstrip("/") + "/api/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": _basic(cfg), "Accept": "application/json"},
        )
        status, answer = await self._send(client, request)
        if status in (400, 401, 403):
            log.warning(
                "spotify_token_refused",
                status=status,
                fix="check [spotify] client_id and client_secret (developer.spotify.com)",
            )
            raise _unavailable(f"token refused with status {status}")
        if status != 200 or not isinstance(answer, dict):
            raise _unavailable(f"token endpoint answered {status}")
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token:
            raise _unavailable("no access_token in the token answer")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token = Secret(token)
        self._expires_at = self.clock() + lifetime - min(TOKEN_MARGIN, lifetime / 10)
        self.tokens_fetched += 1
        return self._token

    async def _access_token(self, client: httpx.AsyncClient) -> Secret:
        if self._token and self.clock() < self._expires_at:
            return self._token
        return await self._fetch_token(client)

    async def get(self, client: httpx.AsyncClient, url: str) -> Any:
        """``GET url`` (on ``api_base``) as JSON, with the token; 401 renews it once, a short
        429 is waited out.  404 (or 400, an id Spotify rejects) is ``SPOTIFY_NOT_FOUND``."""
        if not on_base(url, self.config.api_base):
            raise _unavailable("a URL off the configured api_base")
        renewed = False
        retries = 0
        while True:
            token = await self._access_token(client)
            request = client.build_request(
                "GET",
                url,
                headers={"Authorization": f"Bearer {token.value}", "Accept": "application/json"},
            )
            status, answer = await self._send(client, request)
            if status == 200:
                return answer
            if status == 401 and not renewed:
                renewed = True
                self._token = Secret("")
                continue
            if status == 429:
                wait = _retry_after(answer)
                if wait is not None and wait <= MAX_RETRY_AFTER and retries < MAX_RETRIES:
                    retries += 1
                    log.info("spotify_rate_limited", retry_after=wait)
                    await trio.sleep(wait)
                    continue
                raise _unavailable(f"rate limited (Retry-After {answer or '?'})")
            if status in (400, 404):
                raise _not_found(f"status {status}")
            raise _unavailable(f"status {status}")

    # -- what the extractor asks

    def _remember(self, track: SpotifyTrack) -> None:
        self.known[track.id] = track
        self.known.move_to_end(track.id)
        while len(self.known) > KNOWN_TRACKS:
            self.known.popitem(last=False)

    def _api(self, path: str) -> str:
        return self.config.api_base.rstrip("/") + path

    async def track(self, track_id: str) -> SpotifyTrack:
        """One track, by id."""
        async with pinned_client() as client:
            found = parse_track(await self.get(client, self._api(f"/tracks/{track_id}")))
        if found is None:
            raise _not_found("not a playable track")
        self._remember(found)
        return found

    async def listing(self, ref: SpotifyRef, *, cap: int) -> Listing:
        """An album's or a playlist's playable tracks, its ``tracks`` pages followed while
        their ``next`` link stays on ``api_base``, at most ``cap`` tracks."""
        assert ref.kind in ("album", "playlist")
        path = f"/{ref.kind}s/{ref.id}"
        tracks: list[SpotifyTrack] = []
        truncated = False
        async with pinned_client() as client:
            top = await self.get(client, self._api(path))
            if not isinstance(top, dict):
                raise _not_found("not an object")
            title = str(top.get("name") or ref.url)
            image = _image(top.get("images")) if ref.kind == "album" else None
            page = top.get("tracks")
            while isinstance(page, dict):
                for item in page.get("items") or ():
                    obj = item
                    if ref.kind == "playlist":
                        obj = item.get("track") if isinstance(item, dict) else None
                    found = parse_track(obj, image=image)
                    if found is None:
                        continue
                    if len(tracks) >= cap:
                        truncated = True
                        break
                    tracks.append(found)
                nxt = page.get("next")
                if truncated or not isinstance(nxt, str) or not nxt:
                    break
                if len(tracks) >= cap:
                    truncated = True
                    break
                if not on_base(nxt, self.config.api_base):
                    log.warning("spotify_next_refused", kind=ref.kind, host=urlsplit(nxt).netloc)
                    break
                page = await self.get(client, nxt)
        if not tracks:
            raise _not_found(f"no playable tracks in the {ref.kind}")
        for found in tracks:
            self._remember(found)
        return Listing(title=title, url=ref.url, tracks=tuple(tracks), truncated=truncated)


def _basic(cfg: SpotifyConfig) -> str:
    pair = f"{cfg.client_id}:{cfg.client_secret.value}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _retry_after(value: Any) -> float | None:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


__all__ = [
    "Listing",
    "NoMatch",
    "SpotifyClient",
    "SpotifyRef",
    "SpotifyTrack",
    "closest",
    "mirror_queries",
    "parse_link",
    "parse_track",
    "provider_name",
    "tolerance",
]
