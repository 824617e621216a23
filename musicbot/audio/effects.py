"""Audio effects: the filter presets of ``/filter`` and the 15-band equalizer of ``/eq``.

Theory.  An :class:`Effects` value says what should happen to the samples; it is plain data
(the guild actor keeps it, the session snapshot carries it, the player hands it to the
source).  Only ffmpeg applies it: :meth:`Effects.chain` is the ``-af`` filter graph, so a
stream with any effect is transcoded, and one without goes back to the copied (or direct)
Opus passthrough.

Time.  Some presets change the speed (nightcore, vaporwave, speed): one second of output then
holds :attr:`Effects.rate` seconds of the track.  The player multiplies the frames it sent by
the rate, so the position (``/nowplaying``, ``/seek``, lyrics, the saved session) stays in the
track's own time; seeks are input seeks and need no conversion.

Bands.  The 15 centre frequencies are those of the usual 15-band graphic equalizer (2/3 of an
octave apart, 25 Hz to 16 kHz); each gain is in whole decibels, -12 to +12.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

# (name, what it does to the samples).  ``speed`` and ``pitch`` take an amount.
PRESETS: Final = ("bassboost", "nightcore", "vaporwave", "8d", "karaoke", "speed", "pitch")
EQ_BANDS: Final = (25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000)
EQ_MIN_DB: Final = -12
EQ_MAX_DB: Final = 12
SPEED_RANGE: Final = (50, 200)  # percent
PITCH_RANGE: Final = (-12, 12)  # semitones
DEFAULT_SPEED: Final = 125
DEFAULT_PITCH: Final = 3
NIGHTCORE_RATE: Final = 1.25
VAPORWAVE_RATE: Final = 0.8
_RATE: Final = 48_000  # every chain works at Discord's sample rate
_FLAT: Final = (0,) * len(EQ_BANDS)


def band_label(freq: int) -> str:
    """``25 Hz`` … ``1.6 kHz`` … ``16 kHz``: how the commands show a band."""
    return f"{freq / 1000:g} kHz" if freq >= 1000 else f"{freq} Hz"


def _resample(factor: float) -> str:
    """Play the samples ``factor`` times as fast: speed and pitch together."""
    return f"aresample={_RATE},asetrate={round(_RATE * factor)},aresample={_RATE}"


def _gains(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(g) for g in value)


def _check_eq(_inst: object, _attr: object, value: tuple[int, ...]) -> None:
    if len(value) != len(EQ_BANDS) or any(not EQ_MIN_DB <= g <= EQ_MAX_DB for g in value):
        raise ValueError(f"eq needs {len(EQ_BANDS)} gains of {EQ_MIN_DB}..{EQ_MAX_DB} dB")


@attrs.frozen(kw_only=True)
class Effects:
    """What is done to the samples: at most one preset (with its amount) and the equalizer."""

    preset: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(PRESETS))
    )
    amount: int | None = None  # speed: percent; pitch: semitones; otherwise unused
    eq: tuple[int, ...] = attrs.field(default=_FLAT, converter=_gains, validator=_check_eq)

    @classmethod
    def of(cls, preset: str | None, amount: int | None, eq: Sequence[int] | None) -> Effects:
        """From saved or snapshot values; anything out of range counts as absent."""
        gains = tuple(int(g) for g in eq) if eq else _FLAT
        if len(gains) != len(EQ_BANDS) or any(not EQ_MIN_DB <= g <= EQ_MAX_DB for g in gains):
            gains = _FLAT
        if preset not in PRESETS:
            preset, amount = None, None
        return cls(preset=preset, amount=amount, eq=gains)

    @property
    def empty(self) -> bool:
        """Nothing changes the samples: the stream may be copied as it is."""
        return self.preset is None and not any(self.eq)

    @property
    def speed(self) -> int:
        lo, hi = SPEED_RANGE
        return min(hi, max(lo, self.amount if self.amount is not None else DEFAULT_SPEED))

    @property
    def semitones(self) -> int:
        lo, hi = PITCH_RANGE
        return min(hi, max(lo, self.amount if self.amount is not None else DEFAULT_PITCH))

    @property
    def rate(self) -> float:
        """Seconds of the track in one second of output."""
        match self.preset:
            case "nightcore":
                return NIGHTCORE_RATE
            case "vaporwave":
                return VAPORWAVE_RATE
            case "speed":
                return self.speed / 100
            case _:
                return 1.0

    def with_band(self, index: int, gain: int) -> Effects:
        gains = list(self.eq)
        gains[index] = gain
        return attrs.evolve(self, eq=tuple(gains))

    def chain(self) -> str:
        """The ffmpeg ``-af`` graph for these effects ("" when :attr:`empty`)."""
        parts: list[str] = []
        match self.preset:
            case "bassboost":
                parts.append("bass=g=9:f=110:w=0.6")
            case "nightcore":
                parts.append(_resample(NIGHTCORE_RATE))
            case "vaporwave":
                parts.append(_resample(VAPORWAVE_RATE))
            case "8d":
                parts.append("aformat=channel_layouts=stereo,apulsator=hz=0.125:amount=0.85")
            case "karaoke":
                # The centre (where the voice usually sits) is taken out; the sides stay.
                parts.append("aformat=channel_layouts=stereo,stereotools=mlev=0.03")
            case "speed":
                parts.append(f"atempo={self.speed / 100:.2f}")
            case "pitch":
                factor = math.pow(2.0, self.semitones / 12)
                parts.append(f"{_resample(factor)},atempo={1 / factor:.5f}")
            case None:
                pass
            case other:
                raise AssertionError(other)
        for freq, gain in zip(EQ_BANDS, self.eq, strict=True):
            if gain:
                parts.append(f"equalizer=f={freq}:t=o:w=0.67:g={gain}")
        return ",".join(parts)


NO_EFFECTS: Final = Effects()

__all__ = ["EQ_BANDS", "NO_EFFECTS", "PRESETS", "Effects", "band_label"]
