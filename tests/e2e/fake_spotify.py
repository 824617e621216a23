"""A local stand-in for the Spotify Web API and its accounts service, on 127.0.0.1.

* ``POST /api/token``: the client-credentials flow; checks HTTP Basic ``client_id:secret`` and
  ``grant_type=client_credentials``, hands out ``tok-<n>`` tokens lasting ``expires_in``.
* ``GET /v1/tracks/<id>``, ``/v1/albums/<id>`` (+ ``/tracks``), ``/v1/playlists/<id>``
  (+ ``/tracks``): the objects of :attr:`FakeSpotify.tracks`, ``albums`` and ``playlists``, the
  ``tracks`` lists in pages of ``page_size`` whose ``next`` is an absolute URL on this host
  (or on ``foreign_next`` when a test sets it).  A request without a live token gets 401.

It records every request (method, target, Host, Authorization) and can answer with faults:
``down`` (every request gets that status), ``script`` (the next API requests get these
statuses and headers, in order), ``redirect_to`` (a 302 there), ``hang`` (never answer), and
:meth:`FakeSpotify.revoke` (every token issued so far stops working).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio

from tests.e2e.fake_http import read_request, send_json, serving

CLIENT_ID = "fakeclientid0123456789abcdef0123"
CLIENT_SECRET = "fakesecretS3cr3tValue0123456789x"


def sid(name: str) -> str:
    """A valid 22-character Spotify id made from ``name``."""
    letters = re.sub(r"[^A-Za-z0-9]", "", name)
    return (letters + "0" * 22)[:22]


def track_obj(
    name: str,
    artists: tuple[str, ...] | str,
    seconds: float,
    *,
    isrc: str | None = None,
    image: str | None = "https://i.scdn.example/cover.jpg",
    track_id: str | None = None,
) -> dict[str, Any]:
    """A full track object as ``GET /tracks/{id}`` answers."""
    names = (artists,) if isinstance(artists, str) else artists
    obj: dict[str, Any] = {
        "type": "track",
        "id": track_id or sid(f"{names[0] if names else ''}{name}"),
        "name": name,
        "artists": [{"name": a, "type": "artist"} for a in names],
        "duration_ms": round(seconds * 1000),
        "is_local": False,
        "album": {"name": "Album", "images": [{"url": image, "height": 640}] if image else []},
        "external_ids": {"isrc": isrc} if isrc else {},
    }
    return obj


def simplified(track: dict[str, Any]) -> dict[str, Any]:
    """The same track as an album's ``tracks`` page lists it (no album, no ISRC)."""
    return {k: v for k, v in track.items() if k not in ("album", "external_ids")}


@attrs.define
class Request:
    method: str
    target: str
    host: str
    authorization: str
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@attrs.define
class FakeSpotify:
    tracks: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    albums: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # name, images, items
    playlists: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # name, items
    page_size: int = 2
    expires_in: int = 3600
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    port: int = 0
    requests: list[Request] = attrs.field(factory=list)
    issued: list[str] = attrs.field(factory=list)
    live: set[str] = attrs.field(factory=set)
    down: int | None = None
    script: list[tuple[int, dict[str, str]]] = attrs.field(factory=list)
    redirect_to: str = ""
    foreign_next: str = ""  # base ("http://host:port/v1") of next links, instead of ours
    hang: bool = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base + "/v1"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self, **extra: Any) -> dict[str, Any]:
        """The ``[spotify]`` section pointing at this fake."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_base": self.api_base,
            "accounts_base": self.base,
            "timeout": 5.0,
            **extra,
        }

    def revoke(self) -> None:
        self.live.clear()

    def api_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/v1/")]

    def token_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/token"]

    def add_album(self, name: str, tracks: list[dict[str, Any]], **kw: Any) -> str:
        album_id = kw.pop("album_id", None) or sid("album" + name)
        for track in tracks:
            self.tracks[track["id"]] = track
        images = [{"url": "https://i.scdn.example/album.jpg", "height": 640}]
        self.albums[album_id] = {"name": name, "images": images, "items": tracks}
        return album_id

    def add_playlist(self, name: str, items: list[Any]) -> str:
        """``items``: track objects, or raw playlist items (``{"track": None}``…)."""
        playlist_id = sid("list" + name)
        wrapped = []
        for item in items:
            if isinstance(item, dict) and item.get("type") == "track":
                self.tracks[item["id"]] = item
                wrapped.append({"track": item, "is_local": item.get("is_local", False)})
            else:
                wrapped.append(item)
        self.playlists[playlist_id] = {"name": name, "items": wrapped}
        return playlist_id

    # ------------------------------------------------------------------ answers

    def _page(self, path: str, items: list[Any], offset: int, simplify: bool) -> dict[str, Any]:
        chunk = items[offset : offset + self.page_size]
        if simplify:
            chunk = [simplified(t) for t in chunk]
        nxt = None
        if offset + self.page_size < len(items):
            base = self.foreign_next or self.api_base
            nxt = f"{base}{path}?offset={offset + self.page_size}&limit={self.page_size}"
        return {"items": chunk, "next": nxt, "total": len(items), "offset": offset}

    def _api(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        offset = int(query.get("offset", ["0"])[0])
        parts = path.split("/")[2:]  # "", "v1", kind, id, [tracks]
        if len(parts) == 2 and parts[0] == "tracks" and parts[1] in self.tracks:
            return 200, self.tracks[parts[1]]
        if len(parts) in (2, 3) and parts[0] == "albums" and parts[1] in self.albums:
            album = self.albums[parts[1]]
            page = self._page(f"/albums/{parts[1]}/tracks", album["items"], offset, True)
            if len(parts) == 3:
                return 200, page
            return 200, {"name": album["name"], "images": album["images"], "tracks": page}
        if len(parts) in (2, 3) and parts[0] == "playlists" and parts[1] in self.playlists:
            playlist = self.playlists[parts[1]]
            page = self._page(f"/playlists/{parts[1]}/tracks", playlist["items"], offset, False)
            if len(parts) == 3:
                return 200, page
            return 200, {"name": playlist["name"], "tracks": page}
        return 404, {"error": {"status": 404, "message": "Resource not found"}}

    def _token(self, authorization: str, body: str) -> tuple[int, Any]:
        pair = f"{self.client_id}:{self.client_secret}".encode()
        if authorization != "Basic " + base64.b64encode(pair).decode():
            return 400, {"error": "invalid_client"}
        if parse_qs(body).get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = f"tok-{len(self.issued) + 1}-{'x' * 20}"
        self.issued.append(token)
        self.live.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    def _answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if self.redirect_to:
            return 302, {}, {"Location": self.redirect_to}
        if self.down is not None:
            return self.down, {"error": "down"}, {}
        split = urlsplit(request.target)
        if request.method == "POST" and split.path == "/api/token":
            status, body = self._token(request.authorization, request.body)
            return status, body, {}
        if request.method != "GET" or not split.path.startswith("/v1/"):
            return 404, {}, {}
        if self.script:
            status, headers = self.script.pop(0)
            return status, {"error": {"status": status}}, headers
        token = request.authorization.removeprefix("Bearer ")
        if not request.authorization.startswith("Bearer ") or token not in self.live:
            return 401, {"error": {"status": 401, "message": "The access token expired"}}, {}
        status, body = self._api(split.path, parse_qs(split.query))
        return status, body, {}

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            raw = await read_request(stream)
            if raw is None:
                return
            request = Request(
                method=raw.method,
                target=raw.target,
                host=raw.host,
                authorization=raw.headers.get("authorization", ""),
                body=raw.body.decode("latin-1"),
            )
            self.requests.append(request)
            if self.hang:
                await trio.sleep_forever()
            status, body, headers = self._answer(request)
            await send_json(stream, f"{status} Fake", json.dumps(body).encode(), headers)


@asynccontextmanager
async def fake_spotify(**kw: Any) -> AsyncIterator[FakeSpotify]:
    fake = FakeSpotify(**kw)
    async with serving(fake._serve) as port:
        fake.port = port
        yield fake
