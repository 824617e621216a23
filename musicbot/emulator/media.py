"""Generated demo media and a local HTTP server for it.

Theory: the bot plays whatever yt-dlp can resolve, so the emulator (and the test suite) needs a
media site that yt-dlp understands without the internet.  Three shapes cover the paths that
matter:

* ``/media/<name>.<ext>`` — a direct audio file (Opus in WebM, Opus in Ogg, MP3).  yt-dlp's
  generic extractor recognises it by its ``Content-Type``.
* ``/page/<name>.html`` — an HTML page with an ``<audio>`` element, a ``<title>`` and JSON-LD
  metadata (``duration`` in ISO 8601), which the generic extractor parses.
* ``/feed.xml`` — an RSS podcast feed whose items carry ``<enclosure>`` and ``itunes:duration``:
  yt-dlp treats it as a playlist.
* ``/search?q=<words>`` — a local search provider: the same kind of feed, holding the tones
  whose title or name contains every word (accents and case ignored).  ``[extractor]
  search_provider = "<base>/search?q={query}"`` makes ``/search``, ``/play <words>`` and
  autocomplete work without the internet (the emulator sets it).
* ``/related?url=<link>`` — a local related-tracks provider for autoplay: the same kind of
  feed, holding every tone except the one ``<link>`` names (its page, file or name), in the
  server's order.  ``[extractor] related_provider = "<base>/related?url={url}"`` (the emulator
  sets it).

Files are sine tones made by the bundled ffmpeg and cached in a directory (made once, reused).
The server is hypercorn on trio bound to ``127.0.0.1:0`` with a small ASGI app that supports
``HEAD`` and single ``Range`` requests (yt-dlp and ffmpeg use both) and has test controls:
per-path hit counts, a ``/slow/…`` prefix that delays any path, ``/missing/…`` that always 404s,
a ``/norange/…`` prefix that serves any path the way a server without byte-range support does
(no ``Accept-Ranges``, ``Range`` ignored, always the whole body with 200), a per-path 403
toggle, and :meth:`MediaServer.add` for extra documents a test needs.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import imageio_ffmpeg
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from musicbot.emulator import lyrics_api
from musicbot.emulator.asgi import serve_lifespan
from musicbot.procenv import child_env

log = structlog.get_logger(__name__)

Format = Literal["webm", "ogg", "mp3"]

# ffmpeg arguments per container: codec and muxer.
_ENCODE: Final[dict[str, tuple[str, ...]]] = {
    "webm": ("-c:a", "libopus", "-b:a", "48k", "-f", "webm"),
    "ogg": ("-c:a", "libopus", "-b:a", "48k", "-f", "ogg"),
    "mp3": ("-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"),
}
CONTENT_TYPES: Final[dict[str, str]] = {
    "webm": "audio/webm",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "html": "text/html; charset=utf-8",
    "xml": "application/rss+xml; charset=utf-8",
}
SLOW_PREFIX: Final = "/slow"
MISSING_PREFIX: Final = "/missing"
NO_RANGE_PREFIX: Final = "/norange"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@attrs.frozen(kw_only=True)
class Tone:
    """One generated track: a sine tone of ``frequency`` Hz lasting ``duration`` seconds."""

    name: str
    title: str
    frequency: float
    duration: float
    format: Format

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.format}"


DEFAULT_TONES: Final[tuple[Tone, ...]] = (
    Tone(name="a440", title="Demo tone A440", frequency=440.0, duration=3.0, format="webm"),
    Tone(name="e330", title="Demo tone E330", frequency=329.6, duration=4.0, format="ogg"),
    Tone(name="c523", title="Demo tone C523", frequency=523.3, duration=5.0, format="mp3"),
    Tone(name="g392", title="Bài hát thử Sol 392", frequency=392.0, duration=2.0, format="webm"),
)


async def generate(
    directory: Path, tones: Iterable[Tone] = DEFAULT_TONES, *, ffmpeg: str | None = None
) -> dict[str, Path]:
    """Make each tone's file in ``directory`` unless it is already there; name → path."""
    exe = ffmpeg or imageio_ffmpeg.get_ffmpeg_exe()
    await trio.Path(directory).mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for tone in tones:
        path = directory / tone.filename
        if not await trio.Path(path).exists():
            tmp = path.with_suffix(path.suffix + ".part")
            argv = [
                exe, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"sine=frequency={tone.frequency}:duration={tone.duration}",
                "-ac", "2", "-ar", "48000", "-metadata", f"title={tone.title}",
                *_ENCODE[tone.format], str(tmp),
            ]  # fmt: skip
            await trio.run_process(argv, capture_stdout=True, capture_stderr=True, env=child_env())
            await trio.Path(tmp).rename(path)
        out[tone.name] = path
    return out


def _iso_duration(seconds: float) -> str:
    return f"PT{seconds:g}S"


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def page_html(tone: Tone, base_url: str) -> str:
    """An HTML page with one ``<audio>`` element and JSON-LD describing it."""
    src = f"{base_url}/media/{tone.filename}"
    meta = {
        "@context": "https://schema.org",
        "@type": "AudioObject",
        "name": tone.title,
        "contentUrl": src,
        "duration": _iso_duration(tone.duration),
        "encodingFormat": CONTENT_TYPES[tone.format],
    }
    title = html.escape(tone.title)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        f'<meta property="og:title" content="{title}">'
        f'<script type="application/ld+json">{json.dumps(meta, ensure_ascii=False)}</script>'
        f"</head><body><h1>{title}</h1>"
        f'<audio controls src="{html.escape(src)}" type="{CONTENT_TYPES[tone.format]}"></audio>'
        "</body></html>\n"
    )


def feed_rss(tones: Iterable[Tone], base_url: str, *, title: str = "Demo tones") -> str:
    """An RSS 2.0 podcast feed with one item per tone."""
    items = []
    for tone in tones:
        src = html.escape(f"{base_url}/media/{tone.filename}")
        items.append(
            "<item>"
            f"<title>{html.escape(tone.title)}</title>"
            f"<guid>{src}</guid>"
            f'<enclosure url="{src}" type="{CONTENT_TYPES[tone.format]}" length="0"/>'
            f"<itunes:duration>{_clock(tone.duration)}</itunes:duration>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>{html.escape(title)}</title><link>{base_url}/</link>"
        f"<description>Generated sine tones</description>{''.join(items)}</channel></rss>\n"
    )


def _fold(text: str) -> str:
    """Lower case without accents ("Bài hát" → "bai hat"), for matching search words."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_tones(tones: Iterable[Tone], query: str) -> list[Tone]:
    """The tones whose title or name contains every word of ``query`` (punctuation ignored)."""
    words = re.findall(r"\w+", _fold(query))
    if not words:
        return []
    found = []
    for tone in tones:
        hay = _fold(f"{tone.title} {tone.name}")
        if all(w in hay for w in words):
            found.append(tone)
    return found


def related_tones(tones: Iterable[Tone], link: str) -> list[Tone]:
    """Every tone except the one ``link`` names (``/page/<name>.html``, ``/media/<file>`` or a
    bare name), in their order: what the local related-tracks provider offers."""
    path = urllib.parse.urlsplit(link).path if "/" in link else link
    stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
    return [tone for tone in tones if tone.name != stem]


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → inclusive (start, end); None when unsatisfiable or multi-range."""
    m = _RANGE.match(header.strip())
    if m is None or size == 0:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n > 0 else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end and start < size else None


Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@attrs.define(eq=False)
class MediaServer:
    """State of a running media server; tests read and change it from the trio thread."""

    tones: dict[str, Tone]
    files: dict[str, bytes]  # "/media/<filename>" → content
    base_url: str = ""
    slow_delay: float = 5.0
    hits: Counter[str] = attrs.field(factory=Counter)
    forbidden: set[str] = attrs.field(factory=set)
    extra: dict[str, tuple[bytes, str]] = attrs.field(factory=dict)  # path → (body, type)
    searches: list[str] = attrs.field(factory=list)  # the words of each /search request
    related: list[str] = attrs.field(factory=list)  # the link of each /related request

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``) on this server."""
        return self.base_url + path

    def media_url(self, name: str) -> str:
        """The direct audio file of the tone ``name`` (a ``KeyError`` if there is none)."""
        return self.url(f"/media/{self.tones[name].filename}")

    def page_url(self, name: str) -> str:
        """The HTML page embedding the tone ``name``, with the title and duration yt-dlp's
        generic extractor reads (it answers 404 if there is no such tone)."""
        return self.url(f"/page/{name}.html")

    @property
    def feed_url(self) -> str:
        return self.url("/feed.xml")

    @property
    def search_template(self) -> str:
        """The ``[extractor] search_provider`` value for this server's search."""
        return self.url("/search?q={query}")

    @property
    def lyrics_api_base(self) -> str:
        """The ``[lyrics] api_base`` value for this server's LRCLIB stand-in."""
        return self.url("/api")

    @property
    def related_template(self) -> str:
        """The ``[extractor] related_provider`` value for this server's related tracks."""
        return self.url("/related?url={url}")

    def no_range_url(self, name: str) -> str:
        """The tone's file served without byte-range support."""
        return self.url(f"{NO_RANGE_PREFIX}/media/{self.tones[name].filename}")

    def add(self, path: str, body: bytes, content_type: str) -> str:
        """Serve ``body`` at ``path`` from now on; returns its URL."""
        self.extra[path] = (body, content_type)
        return self.url(path)

    def demo_links(self) -> list[tuple[str, str]]:
        """(title, link) pairs a console or README can offer: each page, then the feed."""
        links = [(tone.title, self.page_url(tone.name)) for tone in self.tones.values()]
        return [*links, ("Demo playlist (RSS)", self.feed_url)]

    def forbid(self, path: str, on: bool = True) -> None:
        """Answer 403 for ``path`` (as a stream host refusing an expired URL would)."""
        (self.forbidden.add if on else self.forbidden.discard)(path)

    def _content(self, path: str, query: str = "") -> tuple[bytes, str] | None:
        if path in self.extra:
            return self.extra[path]
        if path == "/search":
            words = " ".join(urllib.parse.parse_qs(query).get("q", []))
            self.searches.append(words)
            found = search_tones(self.tones.values(), words)
            body = feed_rss(found, self.base_url, title=f"Search: {words}")
            return body.encode(), CONTENT_TYPES["xml"]
        if path == "/api/search":  # LRCLIB's search, for /lyrics in the demo
            asked = _fold(" ".join(urllib.parse.parse_qs(query).get("q", []))).split()
            wanted = [w for w in asked if w not in _fold(lyrics_api.ARTIST).split()]
            matched = [
                lyrics_api.record(tone.title, tone.duration)
                for tone in self.tones.values()
                if wanted and all(w in _fold(tone.title) for w in wanted)
            ]
            return json.dumps(matched).encode(), "application/json"
        if path == "/related":
            link = " ".join(urllib.parse.parse_qs(query).get("url", []))
            self.related.append(link)
            found = related_tones(self.tones.values(), link)
            body = feed_rss(found, self.base_url, title=f"Related: {link}")
            return body.encode(), CONTENT_TYPES["xml"]
        if path in self.files:
            return self.files[path], CONTENT_TYPES[path.rsplit(".", 1)[-1]]
        if path.startswith("/page/") and path.endswith(".html"):
            tone = self.tones.get(path[len("/page/") : -len(".html")])
            if tone is not None:
                return page_html(tone, self.base_url).encode(), CONTENT_TYPES["html"]
        if path == "/feed.xml":
            body = feed_rss(self.tones.values(), self.base_url)
            return body.encode(), CONTENT_TYPES["xml"]
        return None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        self.hits[path] += 1
        if path.startswith(SLOW_PREFIX + "/"):
            await trio.sleep(self.slow_delay)
            path = path[len(SLOW_PREFIX) :]
        ranges = not path.startswith(NO_RANGE_PREFIX + "/")
        if not ranges:
            path = path[len(NO_RANGE_PREFIX) :]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        found = None if path.startswith(MISSING_PREFIX + "/") else self._content(path, query)
        if path in self.forbidden or scope["path"] in self.forbidden:
            await _respond(send, 403, b"forbidden\n", "text/plain", head=False)
        elif found is None:
            await _respond(send, 404, b"not found\n", "text/plain", head=False)
        elif scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b"", "text/plain", head=False)
        else:
            body, ctype = found
            if ranges:
                await _respond_content(send, body, ctype, headers.get("range"), scope["method"])
            else:
                await _respond(send, 200, body, ctype, head=scope["method"] == "HEAD")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    ctype: str,
    *,
    head: bool,
    extra: Mapping[str, str] | None = None,
    length: int | None = None,
) -> None:
    hdrs = {"content-type": ctype, "content-length": str(len(body) if length is None else length)}
    hdrs.update(extra or {})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in hdrs.items()],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _respond_content(
    send: Send, body: bytes, ctype: str, range_header: str | None, method: str
) -> None:
    head = method == "HEAD"
    extra = {"accept-ranges": "bytes"}
    if range_header is None:
        await _respond(send, 200, body, ctype, head=head, extra=extra)
        return
    span = parse_range(range_header, len(body))
    if span is None:
        extra["content-range"] = f"bytes */{len(body)}"
        await _respond(send, 416, b"", ctype, head=head, extra=extra)
        return
    start, end = span
    extra["content-range"] = f"bytes {start}-{end}/{len(body)}"
    await _respond(send, 206, body[start : end + 1], ctype, head=head, extra=extra)


@asynccontextmanager
async def open_media_server(
    directory: Path,
    tones: Iterable[Tone] = DEFAULT_TONES,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[MediaServer]:
    """Generate (or reuse) the media in ``directory`` and serve it on ``host``:``port`` (0: a
    free port chosen by the OS)."""
    tone_list = list(tones)
    paths = await generate(directory, tone_list)
    files = {}
    for tone in tone_list:
        files[f"/media/{tone.filename}"] = await trio.Path(paths[tone.name]).read_bytes()
    server = MediaServer(tones={t.name: t for t in tone_list}, files=files)
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.0
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(serve, server, config)
        server.base_url = binds[0]
        log.info("media_server_started", url=server.base_url, tracks=len(tone_list))
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()
