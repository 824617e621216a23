"""/filter and /eq: what members hear done to the sound, and their en/vi text.

Functions of the guild actor's state, run only by the actor task.  The effects themselves
(presets, the 15 bands, the ffmpeg graph) are :mod:`musicbot.audio.effects`; this family
decides who may change them and keeps them:

- the filter preset belongs to the session (it stays across an actor restart through the
  snapshot, and ends with the session, like the queue's repeat mode);
- the equalizer is a setting of the server (``GuildSettings.eq``), saved before it applies,
  so a new session and a restart start with it.

Anybody may look (either command without options); changing is for a DJ, a server manager or
a lone listener (``DJ_ONLY``), who must be in a voice channel.  A change applies at once, at
the current position: the player reopens the track there through the new graph, and a stream
with no effect left goes back to passthrough.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from actors.guild import settings as guild_settings
from actors.guild.messages import Invocation
from actors.guild.table import Family, Handler
from musicbot.audio.effects import EQ_BANDS, PRESETS, Effects, band_label
from musicbot.i18n import register, t

if TYPE_CHECKING:
    from actors.guild.actor import Guild

OFF: Final = "off"


def describe(fx: Effects, lang: str | None) -> str:
    """The filter and equalizer, in words."""
    if fx.preset is None:
        name = t("fx.none", lang)
    elif fx.preset == "speed":
        name = t("fx.preset.speed", lang) + f" ({fx.speed}%)"
    elif fx.preset == "pitch":
        name = t("fx.preset.pitch", lang) + f" ({fx.semitones:+d})"
    else:
        name = t(f"fx.preset.{fx.preset}", lang)
    bands = [f"{band_label(f)} {g:+d} dB" for f, g in zip(EQ_BANDS, fx.eq, strict=True) if g]
    eq = ", ".join(bands) if bands else t("fx.eq_flat", lang)
    return t("fx.current", lang, filter=name, eq=eq)


async def _may_change(g: Guild, inv: Invocation) -> bool:
    if inv.voice_channel_id is None:
        await g.answer(inv, "cmd.not_in_voice", ephemeral=True)
        return False
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return False
    return True


async def filter_cmd(g: Guild, inv: Invocation) -> None:
    preset = inv.options.get("preset")
    speed, semitones = inv.options.get("speed"), inv.options.get("semitones")
    lang = g.lang(inv)
    fx = g.playback.effects
    if preset is None and speed is None and semitones is None:
        await g.respond(inv, describe(fx, lang), ephemeral=True)
        return
    if not await _may_change(g, inv):
        return
    if preset is None:  # only an amount: for the preset it belongs to
        preset = "speed" if speed is not None else "pitch"
    preset = str(preset)
    if (speed is not None and preset != "speed") or (semitones is not None and preset != "pitch"):
        await g.answer(inv, "fx.amount_alone", ephemeral=True)
        return
    if preset == OFF:
        new = Effects(eq=fx.eq)
    elif preset in PRESETS:
        amount = speed if preset == "speed" else semitones if preset == "pitch" else None
        new = Effects(preset=preset, amount=None if amount is None else int(amount), eq=fx.eq)
    else:  # (the router checks choices; a stale client may still send an old name)
        await g.answer(inv, "fx.unknown", ephemeral=True)
        return
    await g.playback.set_effects(new)
    g.changed()
    await g.respond(inv, t("fx.applied", lang) + "\n" + describe(new, lang))


async def eq(g: Guild, inv: Invocation) -> None:
    band, gain, reset = inv.options.get("band"), inv.options.get("gain"), inv.options.get("reset")
    lang = g.lang(inv)
    fx = g.playback.effects
    if band is None and gain is None and not reset:
        await g.respond(inv, describe(fx, lang), ephemeral=True)
        return
    if not await _may_change(g, inv):
        return
    if reset:
        if band is not None or gain is not None:
            await g.answer(inv, "fx.eq_reset_alone", ephemeral=True)
            return
        new = Effects.of(fx.preset, fx.amount, None)
    else:
        index = _band_index(band)
        if index is None or gain is None:
            await g.answer(inv, "fx.eq_needs_both", ephemeral=True)
            return
        new = fx.with_band(index, int(gain))
    updated = attrs.evolve(g.settings, eq=new.eq if any(new.eq) else ())
    if not await guild_settings.store(g, inv, updated):
        return
    g.settings = updated
    await g.playback.set_effects(new)
    g.changed()
    await g.respond(inv, t("fx.eq_saved", lang) + "\n" + describe(new, lang))


def _band_index(value: object) -> int | None:
    text = str(value) if value is not None else ""
    if text.isascii() and text.isdigit() and int(text) in EQ_BANDS:
        return EQ_BANDS.index(int(text))
    return None


register(
    en={
        "fx.none": "none",
        "fx.preset.bassboost": "bass boost",
        "fx.preset.nightcore": "nightcore",
        "fx.preset.vaporwave": "vaporwave",
        "fx.preset.8d": "8D",
        "fx.preset.karaoke": "karaoke",
        "fx.preset.speed": "speed",
        "fx.preset.pitch": "pitch",
        "fx.eq_flat": "flat",
        "fx.current": "Filter: {filter}\nEqualizer: {eq}",
        "fx.applied": "Filter changed; it plays on from here.",
        "fx.eq_saved": "Equalizer saved for this server.",
        "fx.amount_alone": (
            "`speed` goes with the speed filter and `semitones` with the pitch filter."
        ),
        "fx.unknown": "I don't know that filter.",
        "fx.eq_needs_both": "Give a band and its gain, or `reset`.",
        "fx.eq_reset_alone": "Reset puts every band back to 0 dB; don't combine it with a band.",
    },
    vi={
        "fx.none": "không có",
        "fx.preset.bassboost": "tăng âm trầm",
        "fx.preset.nightcore": "nightcore",
        "fx.preset.vaporwave": "vaporwave",
        "fx.preset.8d": "8D",
        "fx.preset.karaoke": "karaoke",
        "fx.preset.speed": "tốc độ",
        "fx.preset.pitch": "cao độ",
        "fx.eq_flat": "phẳng",
        "fx.current": "Bộ lọc: {filter}\nBộ cân bằng: {eq}",
        "fx.applied": "Đã đổi bộ lọc; nhạc phát tiếp từ chỗ này.",
        "fx.eq_saved": "Đã lưu bộ cân bằng cho máy chủ này.",
        "fx.amount_alone": ("`tốc-độ` dùng với bộ lọc tốc độ, `nửa-cung` dùng với bộ lọc cao độ."),
        "fx.unknown": "Mình không biết bộ lọc đó.",
        "fx.eq_needs_both": "Hãy chọn một dải tần và mức tăng giảm, hoặc `đặt-lại`.",
        "fx.eq_reset_alone": "Đặt lại đưa mọi dải tần về 0 dB; đừng kèm một dải tần.",
    },
)

HANDLERS: Final[dict[str, Handler]] = {"filter": filter_cmd, "eq": eq}
FAMILY: Final = Family(name="filters", handlers=HANDLERS)

__all__ = ["FAMILY", "describe"]
