"""The extraction-load case: streams paced by the voice sender while heavy extractions run.

Real yt-dlp (through the real extractor actor and its pool of worker processes, so the parse
runs outside the process that paces audio) extracts a generated page that costs yt-dlp about a
second of CPU to parse (a large JSON-LD document and markup, as YouTube's player response is),
over and over from ``extractions`` concurrent callers, while the streams play.  Each call uses a
new query string, so neither the cache nor single-flight can absorb the work.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import trio

from actors.extractor import actor as extractor_actor
from musicbot.config import Config, ExtractorConfig

PAGE_ITEMS = 20_000  # about 2 MB of page: roughly a second of yt-dlp's CPU on this machine


def make_page(directory: Path, media_name: str) -> str:
    """A page yt-dlp's generic extractor parses fully (JSON-LD, markup) and finds audio in."""
    path = directory / "heavy-page.html"
    if not path.exists():
        blob = {
            "@context": "https://schema.org",
            "@type": "WebPage",
            "items": [
                {"name": f"item {i}", "v": [i, i * 2, str(i) * 3], "d": {"k": "x" * 20}}
                for i in range(PAGE_ITEMS)
            ],
        }
        rows = "".join(
            f"<div class='c{i % 7}'><a href='/x{i}'>row {i}</a></div>"
            for i in range(PAGE_ITEMS // 4)
        )
        path.write_text(
            "<html><head><title>bench page</title>"
            f'<script type="application/ld+json">{json.dumps(blob)}</script></head>'
            f'<body>{rows}<audio src="/{media_name}"></audio></body></html>'
        )
    return path.name


@attrs.define
class Load:
    started: int = 0
    done: int = 0
    failed: int = 0


def extraction_background(
    page_url: str, extractions: int, load: Load
) -> Callable[[], Awaitable[None]]:
    """A task body: ``extractions`` callers extracting ``page_url`` until cancelled."""
    cfg = Config(
        extractor=ExtractorConfig(
            allowed_domains=("127.0.0.1",), allow_private_addresses=True, timeout=120.0
        )
    )
    counter = itertools.count()

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            handle = await extractor_actor.start(nursery, config=cfg, cache=None)

            async def caller() -> None:
                while True:
                    load.started += 1
                    try:
                        await handle.extract(f"{page_url}?n={next(counter)}")
                        load.done += 1
                    except Exception:
                        load.failed += 1

            for _ in range(extractions):
                nursery.start_soon(caller)

    return run
