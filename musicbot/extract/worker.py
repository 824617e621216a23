"""An extraction worker: a child process that runs yt-dlp, one job at a time.

Run as ``python -m musicbot.extract.worker``; the extractor actor's pool
(:mod:`actors.extractor.pool`) starts and kills these.

Protocol: newline-delimited JSON (ASCII, so a line never contains a raw newline).  On start the
worker writes ``{"hello": {"pid": …, "yt_dlp": "<version>"}}``; then for each job line it reads
on stdin it writes exactly one reply line::

    job   {"id": 7, "kind": "url" | "search", "query": "...", "opts": {...yt-dlp options...},
           "extractors": ["module:Class", ...], "now": <unix time>, "stream_ttl": 1800.0,
           "playlist_cap": 200}
    reply {"id": 7, "ok": <musicbot.extract.info.to_wire(...)>, "warnings": [...]}
       or {"id": 7, "error": {"reason": "<Reason value>", "detail": "..."}, "warnings": [...]}

The worker parses yt-dlp's (often megabyte-sized) info dict into the few fields the bot needs,
so only small, plain data crosses to the audio process.  Its own stdout is moved to stderr
before yt-dlp is imported: nothing a site extractor or plugin prints can corrupt the protocol.
For a bare file whose length or codec the site did not give, the worker also asks the host
for one byte with ``Range`` (``Track.seekable``).
SIGINT is ignored (a Ctrl-C in the terminal is the parent's to handle); the worker exits when
its stdin closes, and the parent kills it outright when a job hangs or is cancelled.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any, BinaryIO

import attrs

from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.info import (
    SearchInfo,
    TrackInfo,
    is_playlist,
    playlist_from_info,
    to_wire,
    track_from_entry,
    track_from_info,
)
from musicbot.extract.ytdlp import (
    CollectingLogger,
    extract_info,
    load_extractor,
    supports_ranges,
)


def handle(job: Mapping[str, Any]) -> dict[str, Any]:
    """One job → one reply (never raises for a bad job or a failed extraction)."""
    logger = CollectingLogger()
    answer: dict[str, Any] = {"id": job.get("id")}
    try:
        extractors = [load_extractor(str(ref)) for ref in job.get("extractors") or ()]
        query = str(job["query"])
        info = extract_info(query, dict(job["opts"]), extractors, logger)
        answer["ok"] = to_wire(_parse(job, query, info))
    except ExtractionError as exc:
        answer["error"] = {"reason": exc.reason.value, "detail": exc.detail}
    except Exception as exc:  # a bad job or a bug in a plugin: still one answer
        answer["error"] = {"reason": Reason.UNKNOWN.value, "detail": f"{type(exc).__name__}: {exc}"}
    answer["warnings"] = logger.warnings
    return answer


def _parse(job: Mapping[str, Any], query: str, info: Any) -> TrackInfo | Any:
    if not isinstance(info, dict):
        raise ExtractionError(Reason.UNKNOWN, f"yt-dlp returned {type(info).__name__}")
    if job.get("kind") == "search":
        tracks = []
        for entry in info.get("entries") or ():
            track = track_from_entry(entry) if isinstance(entry, dict) else None
            if track is not None:
                tracks.append(track)
        return SearchInfo(query=query, tracks=tuple(tracks))
    if is_playlist(info):
        playlist = playlist_from_info(info, cap=int(job["playlist_cap"]), fallback_url=query)
        if not playlist.tracks:
            raise ExtractionError(Reason.NO_RESULTS, "empty playlist")
        return playlist
    track = track_from_info(
        info, now=float(job["now"]), stream_ttl=float(job["stream_ttl"]), requested_url=query
    )
    if (track.duration is None or track.codec is None) and not track.is_live:
        # A bare file the site said little about: the actor will ask ffmpeg, and must know
        # whether the host can seek (see Track.seekable).
        seekable = supports_ranges(track.stream_url, track.http_headers, dict(job["opts"]))
        track = attrs.evolve(track, seekable=seekable)
    return TrackInfo(track=track)


def warm_up() -> None:
    """Pay yt-dlp's first-use costs before saying hello: its networking stack, and the URL
    patterns of its ~1800 extractors (each compiled on first use; a YouTube link is matched
    near the end of the list).  About a second of CPU, once per worker, before any job."""
    import yt_dlp
    from yt_dlp.extractor import gen_extractor_classes

    with yt_dlp.YoutubeDL({"quiet": True, "logger": CollectingLogger()}):
        pass
    for ie in gen_extractor_classes():
        ie.suitable("https://www.youtube.com/watch?v=aqz-KE-bpKQ")


def _write(out: BinaryIO, message: Mapping[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode() + b"\n")
    out.flush()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # print() and anything written to fd 1 now goes to stderr
    import yt_dlp.version

    warm_up()
    _write(out, {"hello": {"pid": os.getpid(), "yt_dlp": str(yt_dlp.version.__version__)}})
    for line in sys.stdin.buffer:
        try:
            job = json.loads(line)
        except ValueError:
            job = None
        if not isinstance(job, dict):
            _write(out, {"id": None, "error": {"reason": "unknown", "detail": "bad job line"}})
            continue
        _write(out, handle(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
