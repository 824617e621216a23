"""``python -m bench``: the audio send path under load, and discord.py's on the same input.

For N in {1, 10, 50, 100} concurrent players (passthrough and transcode) streaming a local file
through RTP + AEAD to UDP on 127.0.0.1: pacing error, CPU of the bot process and of ffmpeg per
stream-minute, resident memory per stream.  Then discord.py (installed into its own venv,
bench/.venv-discordpy, never into the project) runs its send path on the same file in a
subprocess, and our per-packet cost is reported as a ratio to it.

``BENCH_QUICK=1`` (or ``--quick``) shortens every measurement window.  Results are printed as a
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

from bench.ours import micro, scenario, trio_floor
from musicbot.audio.ffmpeg import resolve_ffmpeg

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DPY_VENV = HERE / ".venv-discordpy"


def make_media(ffmpeg: str, seconds: int) -> dict[str, Path]:
    """Music-like input (a chord over pink noise), as Ogg Opus 128k and MP3 128k."""
    OUT.mkdir(exist_ok=True)
    media = {"opus": OUT / f"input-{seconds}s.ogg", "mp3": OUT / f"input-{seconds}s.mp3"}
    src = (
        f"anoisesrc=color=pink:amplitude=0.08:d={seconds}:r=48000[n];"
        f"sine=f=220:d={seconds}:r=48000[a];sine=f=277:d={seconds}:r=48000[b];"
        f"sine=f=330:d={seconds}:r=48000[c];[n][a][b][c]amix=inputs=4,aformat=channel_layouts=stereo"
    )
    encoders = {
        "opus": ["-c:a", "libopus", "-b:a", "128k", "-frame_duration", "20", "-f", "ogg"],
        "mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"],
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
        f"{'bot %/str':>9} {'bot s/min':>9} {'ff s/min':>9} {'µs/pkt':>7} "
        f"{'bot KiB':>8} {'ff PSS':>8} {'pkts':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        p = r["pacing_ms"]
        lines.append(
            f"{r['codec']:<11} {r['streams']:>4} {p['p50']:>7.3f} {p['p99']:>7.3f} "
            f"{p['max']:>7.2f} {r['reanchors']:>3} {r['bot_cpu_pct_core_per_stream']:>9.3f} "
            f"{r['bot_cpu_s_per_stream_min']:>9.4f} {r['ffmpeg_cpu_s_per_stream_min']:>9.4f} "
            f"{r['bot_cpu_us_per_packet']:>7.1f} {r['bot_rss_kib_per_stream']:>8.1f} "
            f"{r['ffmpeg_pss_kib_per_stream']:>8.1f} {r['packets']:>4}/{r['expected_packets']}"
        )
    lines.append(
        "p50/p99/max: pacing error vs the 20 ms grid; re: re-anchors in the window; "
        "bot %/str: bot CPU in % of a core per stream; s/min: CPU s per stream-minute; "
        "µs/pkt: bot CPU per packet; KiB: bot RSS growth per stream, ffmpeg PSS per process"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK"))
    parser.add_argument("--streams", default="1,10,50,100")
    parser.add_argument("--no-discordpy", action="store_true")
    opts = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    warmup, window = (1.0, 3.0) if opts.quick else (2.0, 8.0)
    streams = [int(s) for s in opts.streams.split(",")]
    ffmpeg = resolve_ffmpeg("bundled")
    media = make_media(ffmpeg, 40)
    started = time.monotonic()

    rows: list[dict[str, Any]] = []
    for codec in ("opus", "mp3"):
        for n in streams:
            row = trio.run(
                lambda c=codec, k=n: scenario(
                    ffmpeg, media[c], codec=c, n=k, warmup=warmup, window=window
                )
            )
            rows.append(row)
            print(f"bench: {row['codec']} x{n} done", file=sys.stderr)
    ours_micro = micro(media["opus"])
    floor = {n: trio.run(trio_floor, n, window) for n in streams}

    dpy: dict[str, Any] | None = None
    python = None if opts.no_discordpy else ensure_discordpy()
    if python is not None:
        dpy = run_discordpy(python, ffmpeg, media["opus"], [1, 10], warmup, window)

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
                    if r["codec"] == "passthrough" and r["streams"] == paced["streams"]
                ),
                None,
            )
            if ours is not None:
                comparison[f"paced_cpu_per_packet_ratio_n{paced['streams']}"] = round(
                    ours["bot_cpu_us_per_packet"] / paced["cpu_us_per_packet"], 3
                )

    result = {
        "quick": bool(opts.quick),
        "warmup_s": warmup,
        "window_s": window,
        "cpu_count": os.cpu_count(),
        "scenarios": rows,
        "micro_ours_us_per_packet": ours_micro,
        "trio_floor_us_per_wake": floor,
        "discord_py": dpy,
        "comparison": comparison,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    print(table(rows))
    print()
    print(f"per packet, no I/O (µs): ours {ours_micro}")
    print(f"trio scheduler floor, bare sleep_until per 20 ms, µs per wake by N: {floor}")
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
