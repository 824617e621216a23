"""The generated demo media and the local media server (real ffmpeg, real HTTP)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest
import trio

from musicbot.emulator.media import (
    DEFAULT_TONES,
    Tone,
    generate,
    open_media_server,
    parse_range,
)

TIMEOUT = 20
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


async def probe(path: Path) -> tuple[str, float]:
    """(audio codec, duration in seconds) as ffmpeg itself reads the file."""
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-f", "null", "-"]
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True)
    text = done.stderr.decode()
    codec = re.search(r"Audio: (\w+)", text)
    times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", text)
    assert codec and times, text
    h, m, s = times[-1]
    return codec.group(1), int(h) * 3600 + int(m) * 60 + float(s)


async def test_generated_files_have_the_asked_codec_and_length(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        paths = await generate(media_dir)
        found = {name: await probe(path) for name, path in paths.items()}
    expected_codec = {"webm": "opus", "ogg": "opus", "mp3": "mp3"}
    for tone in DEFAULT_TONES:
        codec, seconds = found[tone.name]
        assert codec == expected_codec[tone.format]
        assert seconds == pytest.approx(tone.duration, abs=0.1)


async def test_generated_files_are_reused(tmp_path: Path) -> None:
    tone = Tone(name="x", title="X", frequency=100.0, duration=0.5, format="ogg")
    with trio.fail_after(TIMEOUT):
        first = (await generate(tmp_path, [tone]))["x"]
        stamp = first.stat().st_mtime_ns
        second = (await generate(tmp_path, [tone]))["x"]
    assert first == second and second.stat().st_mtime_ns == stamp


def test_range_parsing() -> None:
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=990-2000", 1000) == (990, 999)
    assert parse_range("bytes=1000-", 1000) is None
    assert parse_range("bytes=5-1", 1000) is None
    assert parse_range("bytes=0-1,5-6", 1000) is None
    assert parse_range("items=0-1", 1000) is None


async def test_serves_files_with_range_and_head(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_media_server(media_dir) as server, httpx.AsyncClient() as client:
            url = server.media_url("a440")
            whole = await client.get(url)
            head = await client.head(url)
            part = await client.get(url, headers={"Range": "bytes=10-19"})
            tail = await client.get(url, headers={"Range": "bytes=-5"})
            bad = await client.get(url, headers={"Range": "bytes=99999999-"})
    data = (media_dir / "a440.webm").read_bytes()
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/webm"
    assert whole.headers["accept-ranges"] == "bytes"
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert tail.content == data[-5:]
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    assert server.hits["/media/a440.webm"] == 5


async def test_page_and_feed(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_media_server(media_dir) as server, httpx.AsyncClient() as client:
            page = await client.get(server.page_url("g392"))
            feed = await client.get(server.feed_url)
    assert "text/html" in page.headers["content-type"]
    assert "<title>Bài hát thử Sol 392</title>" in page.text
    assert f'<audio controls src="{server.media_url("g392")}"' in page.text
    channel = ET.fromstring(feed.content).find("channel")
    assert channel is not None
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == [t.title for t in DEFAULT_TONES]
    assert [i.findtext(f"{ITUNES}duration") for i in items] == [
        "00:00:03",
        "00:00:04",
        "00:00:05",
        "00:00:02",
    ]
    assert server.demo_links()[-1] == ("Demo playlist (RSS)", server.feed_url)
    assert server.demo_links()[0] == ("Demo tone A440", server.page_url("a440"))
    enclosure = items[2].find("enclosure")
    assert enclosure is not None and enclosure.get("url") == server.media_url("c523")


async def test_controls_missing_forbidden_and_slow(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_media_server(media_dir) as server, httpx.AsyncClient() as client:
            missing = await client.get(server.url("/missing/media/a440.webm"))
            unknown = await client.get(server.url("/nothing-here"))
            server.forbid("/media/e330.ogg")
            forbidden = await client.get(server.media_url("e330"))
            server.forbid("/media/e330.ogg", on=False)
            allowed = await client.get(server.media_url("e330"))
            server.slow_delay = 0.3
            started = trio.current_time()
            slow = await client.get(server.url("/slow/media/e330.ogg"))
            slow_elapsed = trio.current_time() - started
    assert (missing.status_code, unknown.status_code) == (404, 404)
    assert (forbidden.status_code, allowed.status_code) == (403, 200)
    assert slow.status_code == 200 and slow.content == allowed.content
    assert slow_elapsed >= 0.3
    assert server.hits["/media/e330.ogg"] == 2
    assert server.hits["/slow/media/e330.ogg"] == 1


async def test_local_search_is_a_feed_of_the_matching_tones(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_media_server(media_dir) as server, httpx.AsyncClient() as client:
            url = server.search_template.replace("{query}", "B%C3%80I%20h%C3%A1t%20-%20sol")
            found = await client.get(url)
            every = await client.get(server.search_template.replace("{query}", "demo tone"))
            none = await client.get(server.search_template.replace("{query}", "nothing"))
    assert server.searches == ["BÀI hát - sol", "demo tone", "nothing"]

    def titles(response: httpx.Response) -> list[str | None]:
        channel = ET.fromstring(response.content).find("channel")
        assert channel is not None and "rss" in response.headers["content-type"]
        return [i.findtext("title") for i in channel.findall("item")]

    assert titles(found) == ["Bài hát thử Sol 392"]  # accents, case and "-" ignored
    assert titles(every) == ["Demo tone A440", "Demo tone E330", "Demo tone C523"]
    assert titles(none) == []


async def test_no_range_mode_and_extra_documents(media_dir: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_media_server(media_dir) as server, httpx.AsyncClient() as client:
            ranged = await client.get(server.media_url("e330"), headers={"Range": "bytes=10-19"})
            plain = await client.get(server.no_range_url("e330"), headers={"Range": "bytes=10-"})
            head = await client.head(server.no_range_url("e330"))
            extra_url = server.add("/youtubei/x.json", b'{"a": 1}', "application/json")
            extra = await client.get(extra_url)
    assert ranged.status_code == 206 and ranged.headers["accept-ranges"] == "bytes"
    assert plain.status_code == 200 and "accept-ranges" not in plain.headers
    assert plain.content == server.files["/media/e330.ogg"]  # the whole file, from byte 0
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(plain.content)
    assert extra.json() == {"a": 1} and extra.headers["content-type"] == "application/json"
