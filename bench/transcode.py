"""Transcode settings: CPU of ffmpeg (MP3 decode, resample to 48 kHz, libopus encode) per audio
minute for libopus complexities, applications and resamplers, with the waveform fidelity of
each result (ffmpeg's ``asdr``: signal-to-distortion ratio against the resampled input, in dB;
higher is closer).  Not perceptual, but it ranks settings on the same input: a setting whose
SDR is within a fraction of a dB of the default keeps the quality."""

from __future__ import annotations

import re
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

SETTINGS: list[dict[str, Any]] = [
    {"complexity": 10, "application": "audio", "resampler": "swr"},  # libopus's default
    {"complexity": 8, "application": "audio", "resampler": "swr"},
    {"complexity": 5, "application": "audio", "resampler": "swr"},
    {"complexity": 3, "application": "audio", "resampler": "swr"},
    {"complexity": 0, "application": "audio", "resampler": "swr"},
    {"complexity": 10, "application": "lowdelay", "resampler": "swr"},
    {"complexity": 5, "application": "lowdelay", "resampler": "swr"},
    {"complexity": 10, "application": "audio", "resampler": "soxr"},
]
_SDR = re.compile(r"SDR ch\d+: (-?[\d.]+|inf) dB")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def transcode_settings(ffmpeg: str, mp3: Path, *, seconds: int = 40) -> list[dict[str, Any]]:
    out_dir = mp3.parent
    results = []
    for setting in SETTINGS:
        name = f"t-{setting['complexity']}-{setting['application']}-{setting['resampler']}.opus"
        target = out_dir / name
        resample = f"aresample=48000:resampler={setting['resampler']}"
        argv = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-t", str(seconds)]
        argv += ["-i", str(mp3), "-af", resample, "-c:a", "libopus", "-b:a", "128k", "-vbr", "on"]
        argv += ["-compression_level", str(setting["complexity"])]
        argv += ["-application", setting["application"], "-frame_duration", "20"]
        argv += ["-ac", "2", "-f", "opus", str(target)]
        c0, w0 = _children_cpu(), time.monotonic()
        subprocess.run(argv, check=True, timeout=300)
        cpu, wall = _children_cpu() - c0, time.monotonic() - w0
        compare = [ffmpeg, "-hide_banner", "-t", str(seconds), "-i", str(mp3), "-i", str(target)]
        compare += ["-filter_complex", "[0:a]aresample=48000:resampler=soxr[a];[a][1:a]asdr"]
        sdr = subprocess.run(
            [*compare, "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        values = [float(v) for v in _SDR.findall(sdr.stderr) if v != "inf"]
        results.append(
            setting
            | {
                "cpu_s_per_audio_min": round(cpu / (seconds / 60), 3),
                "realtime_x_per_core": round(seconds / cpu, 1) if cpu else None,
                "wall_s": round(wall, 2),
                "sdr_db": round(sum(values) / len(values), 2) if values else None,
            }
        )
    return results
