"""The demo's tracks: short melodies (30 to 120 s) made by the bundled ffmpeg, cached on disk.

Each track is a tune of plucked sine notes, one note per step, repeated until the track ends.
The notes of different tracks are different pitches, so a listener (or a test) can tell
which track is playing from the frequencies it hears.  Files are made once in the demo's
media directory and then reused: the media server (:mod:`musicbot.emulator.media`) serves any
file that is already there under its tone's name, so the melodies are written first under
those names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import attrs
import imageio_ffmpeg
import trio

from musicbot.emulator.media import Tone
from musicbot.procenv import child_env

VERSION: Final = "1"  # bump when the melodies change: a new cache directory is used
ENCODE: Final[dict[str, tuple[str, ...]]] = {
    "webm": ("-c:a", "libopus", "-b:a", "64k", "-f", "webm"),
    "ogg": ("-c:a", "libopus", "-b:a", "64k", "-f", "ogg"),
    "mp3": ("-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3"),
}


@attrs.frozen(kw_only=True)
class Melody:
    name: str
    title: str
    notes: tuple[float, ...]  # Hz, one per step
    step: float  # seconds per note
    duration: float  # seconds
    format: str

    @property
    def tone(self) -> Tone:
        """How the media server describes the track (its first note as its "frequency")."""
        return Tone(
            name=self.name,
            title=self.title,
            frequency=self.notes[0],
            duration=self.duration,
            format=self.format,  # type: ignore[arg-type]
        )

    def note_at(self, seconds: float) -> float:
        """The note sounding at ``seconds`` into the track."""
        return self.notes[int(seconds / self.step) % len(self.notes)]


# Distinct pitch sets, so the tune identifies the track.
MELODIES: Final[tuple[Melody, ...]] = (
    Melody(
        name="morning-walk",
        title="Morning Walk",
        notes=(523.25, 659.25, 783.99, 659.25),  # C5 E5 G5 E5
        step=0.5,
        duration=45.0,
        format="webm",
    ),
    Melody(
        name="song-huong",
        title="Sông Hương",
        notes=(293.66, 329.63, 369.99, 440.0, 493.88, 440.0, 369.99, 329.63),  # D pentatonic
        step=0.4,
        duration=60.0,
        format="ogg",
    ),
    Melody(
        name="night-train",
        title="Night Train",
        notes=(220.0, 261.63, 246.94, 196.0),  # A3 C4 B3 G3
        step=0.6,
        duration=90.0,
        format="mp3",
    ),
    Melody(
        name="long-road",
        title="The Long Road",
        notes=(349.23, 415.3, 466.16, 554.37, 466.16, 415.3),  # F4 G#4 A#4 C#5 …
        step=0.5,
        duration=120.0,
        format="webm",
    ),
)
BY_NAME: Final = {m.name: m for m in MELODIES}


def expression(melody: Melody) -> str:
    """An ``aevalsrc`` expression: the note of each step, plucked (fast decay to a hold)."""
    period = melody.step * len(melody.notes)
    pitch = f"{melody.notes[-1]}"
    for i in range(len(melody.notes) - 2, -1, -1):
        pitch = f"if(lt(mod(t,{period:g}),{melody.step * (i + 1):g}),{melody.notes[i]},{pitch})"
    envelope = f"(0.35+0.65*exp(-4*mod(t,{melody.step:g})))"
    return f"0.6*{envelope}*sin(2*PI*t*{pitch})"


def argv(exe: str, melody: Melody, out: Path) -> list[str]:
    source = f"aevalsrc=exprs='{expression(melody)}':s=48000:d={melody.duration:g}"
    return [
        exe, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", source,
        "-ac", "2", "-ar", "48000", "-metadata", f"title={melody.title}",
        *ENCODE[melody.format], str(out),
    ]  # fmt: skip


def cache_dir(data_dir: Path) -> Path:
    return data_dir / f"demo-media-v{VERSION}"


async def generate(
    directory: Path, melodies: Iterable[Melody] = MELODIES, *, ffmpeg: str | None = None
) -> list[Tone]:
    """Make each melody's file in ``directory`` unless it is there; their tones, in order."""
    exe = ffmpeg or imageio_ffmpeg.get_ffmpeg_exe()
    await trio.Path(directory).mkdir(parents=True, exist_ok=True)
    tones: list[Tone] = []
    for melody in melodies:
        tone = melody.tone
        path = directory / tone.filename
        if not await trio.Path(path).exists():
            tmp = path.with_name(path.name + ".part")
            await trio.run_process(
                argv(exe, melody, tmp), capture_stdout=True, capture_stderr=True, env=child_env()
            )
            await trio.Path(tmp).rename(path)
        tones.append(tone)
    return tones


def melody_of(tones: Sequence[Tone], title: str) -> Melody | None:
    names = {t.title: t.name for t in tones}
    name = names.get(title)
    return BY_NAME.get(name) if name else None
