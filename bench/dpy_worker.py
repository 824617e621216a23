"""discord.py's send path on the same input, run with bench/.venv-discordpy's python.

It does not import musicbot.  It drives discord.py's own code: ``oggparse.OggStream``,
``VoiceClient.send_audio_packet`` (RTP header + xchacha20 via ``_get_voice_packet``) and the
pacing loop of ``AudioPlayer`` fed by ``FFmpegOpusAudio(codec="copy")``.  The VoiceClient is a
bare instance whose connection state is a stub with a real UDP socket, so no Discord is needed.
Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import resource
import socket
import sys
import time
import types

import discord
from discord import oggparse
from discord.player import AudioPlayer, FFmpegOpusAudio
from discord.voice_client import VoiceClient

FRAME = 0.02


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def make_client(port: int, times: list[float] | None) -> VoiceClient:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))

    def send_packet(packet: bytes) -> None:
        sock.send(packet)
        if times is not None:
            times.append(time.perf_counter())

    vc = VoiceClient.__new__(VoiceClient)
    vc._connection = types.SimpleNamespace(  # type: ignore[attr-defined]
        ssrc=1234,
        mode="aead_xchacha20_poly1305_rtpsize",
        secret_key=list(os.urandom(32)),
        dave_session=None,
        can_encrypt=False,
        send_packet=send_packet if port else (lambda packet: None),
        is_connected=lambda: True,
    )
    vc.sequence = 0
    vc.timestamp = 0
    vc._incr_nonce = 0
    return vc


class QuietPlayer(AudioPlayer):
    def _speak(self, speaking: object) -> None:  # no gateway here
        pass


def micro(path: str, repeat: int) -> dict[str, float]:
    data = open(path, "rb").read()  # noqa: SIM115
    t = time.process_time()
    count = 0
    for _ in range(repeat):
        for _packet in oggparse.OggStream(io.BytesIO(data)).iter_packets():
            count += 1
    demux_us = 1e6 * (time.process_time() - t) / count
    packets = list(oggparse.OggStream(io.BytesIO(data)).iter_packets())
    vc = make_client(0, None)
    t = time.process_time()
    for _ in range(repeat):
        for p in packets:
            vc.send_audio_packet(p, encode=False)
    send_us = 1e6 * (time.process_time() - t) / (repeat * len(packets))
    return {"demux_us": round(demux_us, 3), "rtp_xchacha_us": round(send_us, 3)}


def paced(path: str, ffmpeg: str, port: int, n: int, warmup: float, window: float) -> dict:
    all_times: list[list[float]] = []
    players = []
    for _ in range(n):
        times: list[float] = []
        all_times.append(times)
        source = FFmpegOpusAudio(path, codec="copy", executable=ffmpeg)
        player = QuietPlayer(source, make_client(port, times))
        players.append(player)
        player.start()
        time.sleep(FRAME / max(1, n) * (0.5 + (len(players) % 7) / 7))
    time.sleep(warmup)
    t0, c0 = time.perf_counter(), cpu()
    time.sleep(window)
    t1, c1 = time.perf_counter(), cpu()
    for player in players:
        player.stop()
    for player in players:
        player.join(5)
    errors: list[float] = []
    packets = 0
    for times in all_times:
        xs = [t - k * FRAME for k, t in enumerate(times) if t0 <= t <= t1]
        packets += len(xs)
        if xs:
            base = min(xs)
            errors += [(x - base) * 1000 for x in xs]
    errors.sort()

    def pct(p: float) -> float:
        return round(errors[min(len(errors) - 1, int(p / 100 * len(errors)))], 3)

    return {
        "streams": n,
        "packets": packets,
        "pacing_ms": {"p50": pct(50), "p99": pct(99), "max": round(errors[-1], 3)},
        "cpu_us_per_packet": round(1e6 * (c1 - c0) / max(1, packets), 1),
        "cpu_pct_core_per_stream": round(100 * (c1 - c0) / (n * (t1 - t0)), 3),
    }


def main() -> None:
    args = json.loads(sys.argv[1])
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    out = {
        "discord_py": discord.__version__,
        "micro": micro(args["path"], args["repeat"]),
        "paced": [
            paced(args["path"], args["ffmpeg"], port, n, args["warmup"], args["window"])
            for n in args["streams"]
        ],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
