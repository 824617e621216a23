"""/settings: a server manager's per-guild settings (DJ role, language, default volume).

The guild actor owns ``<data_dir>/guilds/<id>/settings.json`` (its
:class:`~musicbot.storage.GuildSettingsStore`) and keeps the loaded value in ``g.settings``,
which the rest of the actor reads: ``g.lang`` (language override), ``g.is_dj`` (DJ role) and the
volume a new session starts at.  A change is saved first and applied only once it is on disk,
so what the bot does always matches what a restart would load.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import attrs
import structlog

import actors.guild.autoplay  # noqa: F401  (registers the autoplay texts shown here)
from actors.guild import fair_queue, vote_skip
from actors.guild.messages import Invocation
from actors.guild.table import Family, Handler
from musicbot.audio.effects import Effects
from musicbot.i18n import register, t
from musicbot.storage import Conflict, GuildSettings, StorageError

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

MANAGE_GUILD: Final = 1 << 5  # Discord permission bits
ADMINISTRATOR: Final = 1 << 3
LANGUAGES: Final = ("en", "vi")
CHANGEABLE: Final = (
    "dj_role",
    "language",
    "default_volume",
    "vote_skip",
    "fair_queue",
)  # options that change a setting


def _describe(settings: GuildSettings, default_volume: int, lang: str | None) -> str:
    dj = f"<@&{settings.dj_role_id}>" if settings.dj_role_id else t("settings.none", lang)
    language = (
        t(f"settings.language.{settings.language}", lang)
        if settings.language
        else t("settings.language.auto", lang)
    )
    volume = settings.default_volume if settings.default_volume is not None else default_volume
    vote = settings.vote_skip_percent or vote_skip.DEFAULT_PERCENT
    return (
        t("settings.current", lang, dj=dj, language=language, volume=volume)
        + "\n"
        + t("settings.vote_skip", lang, percent=vote)
        + "\n"
        + t("settings.fair_queue." + ("on" if settings.fair_queue else "off"), lang)
        + "\n"
        + t("settings.autoplay." + ("on" if settings.autoplay else "off"), lang)
    )


async def store(g: Guild, inv: Invocation, updated: GuildSettings) -> bool:
    """Save ``updated`` as the guild's settings before anything applies them; on a storage
    error answer the member and return False (after a conflict with another process, its
    version is loaded, so a retry builds on it)."""
    try:
        await g.deps.storage.guild_settings(g.guild_id).save(updated)
    except StorageError as exc:
        log.warning("settings_save_failed", error=type(exc).__name__, detail=str(exc))
        if isinstance(exc, Conflict):
            with contextlib.suppress(StorageError):
                g.settings = await g.deps.storage.guild_settings(g.guild_id).load()
        await g.respond(inv, exc.user_message(g.lang(inv)), ephemeral=True)
        return False
    return True


async def settings(g: Guild, inv: Invocation) -> None:
    if not inv.permissions & (MANAGE_GUILD | ADMINISTRATOR):
        await g.answer(inv, "settings.need_manager", ephemeral=True)
        return
    changes: dict[str, Any] = {}
    reset = bool(inv.options.get("reset"))
    if reset and any(inv.options.get(k) is not None for k in CHANGEABLE):
        await g.answer(inv, "settings.reset_alone", ephemeral=True)
        return
    if inv.options.get("dj_role") is not None:
        changes["dj_role_id"] = int(inv.options["dj_role"])
    if inv.options.get("language") is not None:
        language = str(inv.options["language"])
        if language not in LANGUAGES:
            await g.answer(inv, "settings.bad_language", ephemeral=True)
            return
        changes["language"] = language
    if inv.options.get("default_volume") is not None:
        changes["default_volume"] = max(0, min(200, int(inv.options["default_volume"])))
    if reset:
        changes = {
            k: None for k in ("dj_role_id", "language", "default_volume", "vote_skip_percent")
        }
        changes["fair_queue"] = False
        changes["eq"] = ()
        changes["autoplay"] = False
    if inv.options.get("fair_queue") is not None:
        changes["fair_queue"] = bool(inv.options["fair_queue"])
    if inv.options.get("vote_skip") is not None:
        changes["vote_skip_percent"] = max(1, min(100, int(inv.options["vote_skip"])))
    if not changes:
        text = _describe(g.settings, g.cfg.audio.default_volume, g.lang(inv))
        await g.respond(inv, text, ephemeral=True)
        return
    # (A reset sets the three to None, "use the default"; 24/7 is /247's and stays.)
    updated = attrs.evolve(g.settings, **changes)
    if not await store(g, inv, updated):
        return
    if "eq" in changes:
        fx = g.playback.effects
        await g.playback.set_effects(Effects.of(fx.preset, fx.amount, None))
    turned_fair = updated.fair_queue and not g.settings.fair_queue
    g.settings = updated
    if turned_fair and fair_queue.interleave(g):
        g.changed()  # the upcoming tracks now take turns
    if "default_volume" in changes and g.player is None:
        # Applies now when nothing is playing (after a reset: the configured default).
        if updated.default_volume is None:
            g.volume = g.cfg.audio.default_volume
        else:
            g.volume = updated.default_volume
    log.info("guild_settings_changed", fields=sorted(changes))
    lang = g.lang(inv)  # the new language answers already
    text = (
        t("settings.reset" if reset else "settings.saved", lang)
        + "\n"
        + _describe(updated, g.cfg.audio.default_volume, lang)
    )
    await g.respond(inv, text, ephemeral=True)


register(
    en={
        "settings.need_manager": "Only server managers can change the bot's settings.",
        "settings.bad_language": "The language must be English (en) or Vietnamese (vi).",
        "settings.none": "none",
        "settings.language.auto": "each member's Discord language",
        "settings.language.en": "English",
        "settings.language.vi": "Vietnamese",
        "settings.current": ("DJ role: {dj}\nLanguage: {language}\nDefault volume: {volume}%"),
        "settings.saved": "Settings saved.",
        "settings.reset": "Settings reset to their defaults.",
        "settings.fair_queue.on": "Fair queue: on (requesters take turns)",
        "settings.fair_queue.off": "Fair queue: off (tracks play in the order added)",
        "settings.reset_alone": "Reset puts every setting back; don't combine it with changes.",
    },
    vi={
        "settings.need_manager": "Chỉ người quản lý máy chủ mới được đổi cài đặt của bot.",
        "settings.bad_language": "Ngôn ngữ phải là tiếng Anh (en) hoặc tiếng Việt (vi).",
        "settings.none": "không có",
        "settings.language.auto": "ngôn ngữ Discord của từng thành viên",
        "settings.language.en": "Tiếng Anh",
        "settings.language.vi": "Tiếng Việt",
        "settings.current": (
            "Vai trò DJ: {dj}\nNgôn ngữ: {language}\nÂm lượng mặc định: {volume}%"
        ),
        "settings.saved": "Đã lưu cài đặt.",
        "settings.reset": "Đã đưa mọi cài đặt về mặc định.",
        "settings.fair_queue.on": "Hàng đợi công bằng: bật (người yêu cầu lần lượt)",
        "settings.fair_queue.off": "Hàng đợi công bằng: tắt (phát theo thứ tự thêm)",
        "settings.reset_alone": "Đặt lại sẽ đưa mọi cài đặt về mặc định; đừng kèm thay đổi khác.",
    },
)


HANDLERS: Final[dict[str, Handler]] = {
    "settings": settings,
}
FAMILY: Final = Family(
    name="settings",
    handlers=HANDLERS,
)
