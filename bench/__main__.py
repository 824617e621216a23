"""``python -m bench``: the audio send path under load, and discord.py's on the same input.

Cases (``cases[]``): N concurrent players on the one voice sender, through RTP + AEAD to UDP on
127.0.0.1.  ``passthrough``: WebM Opus fetched over HTTP (ranged) from the bench's media server
(its own process) and demuxed in process; N up to 1000.  ``transcode``: MP3 through ffmpeg
(libopus).  Per case: pacing error against each stream's 20 ms grid, re-anchors, bot CPU per
packet (``us_per_packet``) and memory per stream counting children (``kib_per_stream_total``:
bot RSS growth plus the ffmpeg children's PSS, per stream).  ``extraction_load``: 50 streams
while 4 callers extract a generated heavy page with real yt-dlp through the real extractor
actor.  ``transcode_settings``: CPU and fidelity of libopus complexities and resamplers.  Then
discord.py (installed into its own venv, bench/.venv-discordpy, never into the project) runs its
send path on the same Ogg file, and our paced per-packet cost is reported as a ratio to it
(``comparison.paced_cpu_per_packet_ratio_n10``).

``BENCH_QUICK=1`` (or ``--quick``) shortens every window and the case list (under a minute; the
discord.py comparison then runs only if its venv already exists).  Results are printed as a
table and as JSON, and written to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import structlog
import trio

from bench.extraction import Load, extraction_background, make_page
from bench.ours import micro, scenario, trio_floor
from bench.transcode import transcode_settings
from musicbot.audio.ffmpeg import resolve_ffmpeg
from musicbot.voice.rtp import NATIVE

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DPY_VENV = HERE / ".venv-discordpy"


def make_media(ffmpeg: str, seconds: int) -> dict[str, Path]:
    """Music-like input (a chord over pink noise), as Ogg Opus 128k and MP3 128k."""
    OUT.mkdir(exist_ok=True)
    media = {
        "opus": OUT / f"input-{seconds}s.ogg",
        "mp3": OUT / f"input-{seconds}s.mp3",
        "webm": OUT / f"input-{seconds}s.webm",
    }
    src = (
        f"anoisesrc=color=pink:amplitude=0.08:d={seconds}:r=48000[n];"
        f"sine=f=220:d={seconds}:r=48000[a];sine=f=277:d={seconds}:r=48000[b];"
        f"sine=f=330:d={seconds}:r=48000[c];[n][a][b][c]amix=inputs=4,aformat=channel_layouts=stereo"
    )
    encoders = {
        "opus": ["-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20", "-f", "ogg"],
        "mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-f", "mp3"],
        "webm": ["-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20", "-f", "webm"],
    }
    for codec, path in media.items():
        if not path.exists():
            subprocess.run(
                [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-filter_complex", src]
                + encoders[codec]
                + [str(path)],
                check=True,
                timeout=120,
            )
    return media


def ensure_discordpy() -> Path | None:
    python = DPY_VENV / "bin" / "python"
    if python.exists():
        return python
    print("bench: creating bench/.venv-discordpy with discord.py (once)", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(DPY_VENV)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "discord.py", "PyNaCl"],
            check=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"bench: discord.py comparison skipped: {exc}", file=sys.stderr)
        return None
    return python


def run_discordpy(
    python: Path, ffmpeg: str, path: Path, streams: list[int], warmup: float, window: float
) -> dict[str, Any] | None:
    args = {
        "path": str(path),
        "ffmpeg": ffmpeg,
        "streams": streams,
        "warmup": warmup,
        "window": window,
        "repeat": 10,
    }
    proc = subprocess.run(
        [str(python), str(HERE / "dpy_worker.py"), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        print(f"bench: discord.py worker failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'mode':<11} {'N':>4} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'re':>3} "
        f"{'µs/pkt':>7} {'ff s/min':>9} {'KiB/str':>8} {'bot KiB':>8} {'pkts':>13}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        p = r["pacing_ms"]
        lines.append(
            f"{r['mode']:<11} {r['streams']:>4} {p['p50']:>7.3f} {p['p99']:>7.3f} "
            f"{p['max']:>7.2f} {r['reanchors']:>3} {r['us_per_packet']:>7.1f} "
            f"{r['ffmpeg_cpu_s_per_stream_min']:>9.4f} {r['kib_per_stream_total']:>8.1f} "
            f"{r['bot_rss_kib_per_stream']:>8.1f} {r['packets']:>6}/{r['expected_packets']}"
        )
    lines.append(
        "p50/p99/max: pacing error vs each stream's 20 ms grid; re: re-anchors in the window; "
        "µs/pkt: bot CPU per packet; ff s/min: ffmpeg CPU s per stream-minute; KiB/str: bot "
        "RSS growth + children's PSS per stream"
    )
    return "\n".join(lines)


def start_media_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mediaserver", str(OUT)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK"))
    parser.add_argument("--streams", default="")
    parser.add_argument("--transcodes", default="")
    parser.add_argument("--no-discordpy", action="store_true")
    opts = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    quick = bool(opts.quick)
    warmup, window = (0.5, 2.0) if quick else (2.0, 8.0)
    default_streams = "10,200" if quick else "1,10,50,100,1000"
    streams = [int(s) for s in (opts.streams or default_streams).split(",")]
    transcodes = [int(s) for s in (opts.transcodes or ("10" if quick else "1,10,40")).split(",")]
    ffmpeg = resolve_ffmpeg("bundled")
    media = make_media(ffmpeg, 40)
    page = make_page(OUT, media["webm"].name)
    started = time.monotonic()
    server, base = start_media_server()
    try:
        rows: list[dict[str, Any]] = []
        for n in streams:
            url = f"{base}/{media['webm'].name}"
            row = trio.run(
                lambda k=n, u=url: scenario(
                    ffmpeg, u, mode="passthrough", n=k, warmup=warmup, window=window
                )
            )
            rows.append(row)
            print(
                f"bench: passthrough x{n} done at {time.monotonic() - started:.1f} s",
                file=sys.stderr,
            )
        for n in transcodes:
            row = trio.run(
                lambda k=n: scenario(
                    ffmpeg, str(media["mp3"]), mode="transcode", n=k, warmup=warmup, window=window
                )
            )
            rows.append(row)
            print(
                f"bench: transcode x{n} done at {time.monotonic() - started:.1f} s", file=sys.stderr
            )
        settings = transcode_settings(ffmpeg, media["mp3"], seconds=5 if quick else 40)
        print(
            f"bench: transcode settings done at {time.monotonic() - started:.1f} s", file=sys.stderr
        )
        ours_micro = micro(media["opus"], media["webm"], repeat=5 if quick else 20)
        floor = {n: trio.run(trio_floor, n, window) for n in (1, 10, 100)}
        dpy: dict[str, Any] | None = None
        python: Path | None = None
        if not opts.no_discordpy:
            python = DPY_VENV / "bin" / "python"
            if not python.exists():
                python = None if quick else ensure_discordpy()
        if python is not None:
            dpy = run_discordpy(python, ffmpeg, media["opus"], [1, 10], warmup, window)
        # Last: it leaves the machine busy (workers finishing their parse) for a moment.
        load = Load()
        background = extraction_background(f"{base}/{page}", 4, load)
        loaded = trio.run(
            lambda: scenario(
                ffmpeg,
                f"{base}/{media['webm'].name}",
                mode="passthrough",
                n=50,
                warmup=warmup + 2.0,
                window=window,
                background=background,
            )
        )
        print(f"bench: extraction load done at {time.monotonic() - started:.1f} s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    extraction_load = {
        "streams": loaded["streams"],
        "extractions": 4,
        "extractions_started": load.started,
        "extractions_completed": load.done,
        "extractions_failed": load.failed,
        "executor": "the extractor actor as built (yt-dlp in its worker-process pool)",
        "pacing_ms": loaded["pacing_ms"],
        "reanchors": loaded["reanchors"],
        "us_per_packet": loaded["us_per_packet"],
    }

    comparison: dict[str, Any] = {}
    if dpy is not None:
        theirs = dpy["micro"]
        ours_total = ours_micro["demux_us"] + ours_micro["rtp_xchacha_us"]
        theirs_total = theirs["demux_us"] + theirs["rtp_xchacha_us"]
        comparison["micro_ratio_ours_to_discordpy"] = {
            "demux": round(ours_micro["demux_us"] / theirs["demux_us"], 3),
            "rtp_xchacha": round(ours_micro["rtp_xchacha_us"] / theirs["rtp_xchacha_us"], 3),
            "total": round(ours_total / theirs_total, 3),
        }
        for paced in dpy["paced"]:
            ours = next(
                (
                    r
                    for r in rows
                    if r["mode"] == "passthrough" and r["streams"] == paced["streams"]
                ),
                None,
            )
            if ours is not None:
                comparison[f"paced_cpu_per_packet_ratio_n{paced['streams']}"] = round(
                    ours["us_per_packet"] / paced["cpu_us_per_packet"], 3
                )

    result = {
        "quick": quick,
        "warmup_s": warmup,
        "window_s": window,
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "cases": rows,
        "extraction_load": extraction_load,
        "transcode_settings": settings,
        "micro_ours_us_per_packet": ours_micro,
        "rtp_path": "c" if NATIVE else "python",
        "trio_floor_us_per_wake": floor,
        "discord_py": dpy,
        "comparison": comparison,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    print(table(rows))
    print()
    print(f"extraction load: {extraction_load}")
    print(f"per packet, no I/O (µs): ours {ours_micro}")
    print(f"trio scheduler floor, bare sleep_until per 20 ms, µs per wake by N: {floor}")
    for setting in settings:
        print(f"transcode setting: {setting}")
    if dpy is not None:
        print(f"per packet, no I/O (µs): discord.py {dpy['discord_py']} {dpy['micro']}")
        for paced in dpy["paced"]:
            print(f"discord.py paced: {paced}")
        print(f"ratios (ours / discord.py): {comparison}")
    print()
    print(json.dumps(result, indent=2))
    (OUT / "results.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
