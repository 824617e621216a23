"""/metrics and /health: the ops figures as embeds, in English or Vietnamese.

Who sees what: the bot owner (``[discord] owner_ids``) sees the whole process (every guild,
shard, cache, REST and process figure); a server manager (Manage Server or Administrator) sees
their own guild's figures and the overall status; anyone else is refused.  Answers are
ephemeral: they are for the one who asked.  The figures are read from the one ``Metrics`` and
health source the composition root passed down (``GuildDeps.ops``), never recomputed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import trio

from actors.guild.messages import Invocation
from actors.guild.table import Family, Handler
from musicbot import i18n
from musicbot.i18n import t
from musicbot.ops.health import HealthReport, Status, evaluate
from musicbot.ops.metrics import GuildFigures, MetricsSnapshot

if TYPE_CHECKING:
    from actors.guild.actor import Guild

MANAGE_GUILD: Final = 1 << 5  # Discord permission bits
ADMINISTRATOR: Final = 1 << 3
COLOURS: Final = {Status.HEALTHY: 0x57F287, Status.DEGRADED: 0xFEE75C, Status.UNHEALTHY: 0xED4245}
INFO_COLOUR: Final = 0x5865F2
MAX_FIELDS: Final = 25  # Discord's limit per embed
MAX_REASONS: Final = 10

EN: Final = {
    "ops.not_allowed": "Only the bot owner or a server manager can see this.",
    "ops.off": "Runtime figures are not collected in this process.",
    "ops.metrics_title": "Runtime figures",
    "ops.metrics_guild_title": "Runtime figures for this server",
    "ops.yes": "yes",
    "ops.no": "no",
    "ops.none": "—",
    "ops.f.actor": "Music actor running",
    "ops.f.voice": "Voice connected",
    "ops.f.playing": "Playing",
    "ops.f.tracks": "Tracks started / finished / failed",
    "ops.f.frames": "Audio frames sent / late",
    "ops.f.uptime": "Uptime",
    "ops.f.guilds": "Servers / active music actors",
    "ops.f.voice_players": "Voice connections / players playing",
    "ops.f.failed_by_reason": "Failures by reason",
    "ops.f.extraction": "Extractions (average time)",
    "ops.f.cache": "Cache hits / misses (hit ratio) / evictions",
    "ops.f.gateway": "Gateway latency per shard",
    "ops.f.reconnects": "Gateway reconnects / resumes, voice reconnects",
    "ops.f.rest": "REST requests / rate limited (429)",
    "ops.f.dropped": "Events dropped / supervisor restarts",
    "ops.f.process": "CPU time / memory",
    "ops.health_title": "Health: {status}",
    "ops.status.healthy": "healthy",
    "ops.status.degraded": "degraded",
    "ops.status.unhealthy": "unhealthy",
    "ops.ready": "Ready",
    "ops.reasons": "Why",
    "ops.all_good": "Every shard is connected and heartbeating, Discord's API answers.",
    "ops.shards": "Shards",
    "ops.rest_age": "Discord API last answered",
    "ops.seconds_ago": "{seconds} s ago",
    "ops.shard_line": "shard {shard}: {status}, latency {latency}",
    "ops.r.shard_no_ack": "Shard {shard} gets no heartbeat acknowledgements from Discord.",
    "ops.r.shard_latency": "Shard {shard} has a high gateway latency.",
    "ops.r.shard_reconnecting": "Shard {shard} is reconnecting.",
    "ops.r.shard_disconnected": "Shard {shard} is disconnected.",
    "ops.r.shard_connecting": "Shard {shard} has not connected yet.",
    "ops.r.rest_failing": "Discord's API is not answering.",
    "ops.r.voice_unhealthy": "Some voice connections are reconnecting.",
    "ops.r.extractor_stale": "yt-dlp is out of date; YouTube may stop working.",
    "ops.r.starting": "The bot is starting: not every shard is connected yet.",
}
VI: Final = {
    "ops.not_allowed": "Chỉ chủ bot hoặc người quản lý máy chủ mới xem được mục này.",
    "ops.off": "Tiến trình này không thu thập số liệu vận hành.",
    "ops.metrics_title": "Số liệu vận hành",
    "ops.metrics_guild_title": "Số liệu vận hành của máy chủ này",
    "ops.yes": "có",
    "ops.no": "không",
    "ops.none": "—",
    "ops.f.actor": "Tác nhân nhạc đang chạy",
    "ops.f.voice": "Đã kết nối thoại",
    "ops.f.playing": "Đang phát",
    "ops.f.tracks": "Bài đã bắt đầu / đã xong / lỗi",
    "ops.f.frames": "Khung âm thanh đã gửi / trễ",
    "ops.f.uptime": "Thời gian chạy",
    "ops.f.guilds": "Máy chủ / tác nhân nhạc đang hoạt động",
    "ops.f.voice_players": "Kết nối thoại / trình phát đang phát",
    "ops.f.failed_by_reason": "Lỗi theo nguyên nhân",
    "ops.f.extraction": "Lượt trích xuất (thời gian trung bình)",
    "ops.f.cache": "Bộ đệm trúng / trượt (tỉ lệ trúng) / loại bỏ",
    "ops.f.gateway": "Độ trễ gateway theo shard",
    "ops.f.reconnects": "Gateway kết nối lại / nối tiếp, thoại kết nối lại",
    "ops.f.rest": "Yêu cầu REST / bị giới hạn (429)",
    "ops.f.dropped": "Sự kiện bị bỏ / lần khởi động lại",
    "ops.f.process": "Thời gian CPU / bộ nhớ",
    "ops.health_title": "Tình trạng: {status}",
    "ops.status.healthy": "tốt",
    "ops.status.degraded": "suy giảm",
    "ops.status.unhealthy": "không ổn",
    "ops.ready": "Sẵn sàng",
    "ops.reasons": "Lý do",
    "ops.all_good": "Mọi shard đều kết nối và gửi nhịp tim, API của Discord vẫn trả lời.",
    "ops.shards": "Các shard",
    "ops.rest_age": "API Discord trả lời lần cuối",
    "ops.seconds_ago": "{seconds} giây trước",
    "ops.shard_line": "shard {shard}: {status}, độ trễ {latency}",
    "ops.r.shard_no_ack": "Shard {shard} không nhận được xác nhận nhịp tim từ Discord.",
    "ops.r.shard_latency": "Shard {shard} có độ trễ gateway cao.",
    "ops.r.shard_reconnecting": "Shard {shard} đang kết nối lại.",
    "ops.r.shard_disconnected": "Shard {shard} đã mất kết nối.",
    "ops.r.shard_connecting": "Shard {shard} chưa kết nối xong.",
    "ops.r.rest_failing": "API của Discord không trả lời.",
    "ops.r.voice_unhealthy": "Một số kết nối thoại đang kết nối lại.",
    "ops.r.extractor_stale": "yt-dlp đã cũ; YouTube có thể ngừng hoạt động.",
    "ops.r.starting": "Bot đang khởi động: chưa phải shard nào cũng đã kết nối.",
}
i18n.register(EN, VI)


def is_owner(g: Guild, inv: Invocation) -> bool:
    return inv.user_id in g.cfg.discord.owner_ids


def is_manager(inv: Invocation) -> bool:
    return bool(inv.permissions & (MANAGE_GUILD | ADMINISTRATOR))


def _yes(value: bool, locale: str | None) -> str:
    return t("ops.yes" if value else "ops.no", locale)


def _ms(seconds: float | None, locale: str | None) -> str:
    return t("ops.none", locale) if seconds is None else f"{seconds * 1000:.0f} ms"


def _duration(seconds: float) -> str:
    total = int(seconds)
    d, rest = divmod(total, 86_400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d {h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def _field(key: str, value: str, locale: str | None) -> dict[str, Any]:
    return {"name": t(key, locale), "value": value[:1024] or "—", "inline": True}


def guild_fields(f: GuildFigures, locale: str | None) -> list[dict[str, Any]]:
    return [
        _field("ops.f.actor", _yes(f.actor_running, locale), locale),
        _field("ops.f.voice", _yes(f.voice_connected, locale), locale),
        _field("ops.f.playing", _yes(f.playing, locale), locale),
        _field(
            "ops.f.tracks", f"{f.tracks_started} / {f.tracks_finished} / {f.tracks_failed}", locale
        ),
        _field("ops.f.frames", f"{f.frames_sent} / {f.frames_late}", locale),
    ]


def process_fields(s: MetricsSnapshot, locale: str | None) -> list[dict[str, Any]]:
    none = t("ops.none", locale)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(s.tracks_failed_by_reason.items()))
    ratio = s.cache_hit_ratio
    latency = ", ".join(
        f"#{shard}: {_ms(v, locale)}" for shard, v in sorted(s.gateway_latency_seconds.items())
    )
    cpu = none if s.cpu_seconds is None else f"{s.cpu_seconds:.1f} s"
    rss = none if s.resident_memory_bytes is None else f"{s.resident_memory_bytes / 2**20:.0f} MiB"
    return [
        _field("ops.f.uptime", _duration(s.uptime_seconds), locale),
        _field("ops.f.guilds", f"{s.guilds} / {s.guild_actors}", locale),
        _field("ops.f.voice_players", f"{s.voice_connections} / {s.players_playing}", locale),
        _field(
            "ops.f.tracks", f"{s.tracks_started} / {s.tracks_finished} / {s.tracks_failed}", locale
        ),
        _field("ops.f.failed_by_reason", reasons or none, locale),
        _field(
            "ops.f.extraction", f"{s.extractions} ({_ms(s.extraction_seconds_avg, locale)})", locale
        ),
        _field(
            "ops.f.cache",
            f"{s.cache_hits} / {s.cache_misses} "
            f"({none if ratio is None else f'{ratio:.0%}'}) / {s.cache_evictions}",
            locale,
        ),
        _field("ops.f.gateway", latency or none, locale),
        _field(
            "ops.f.reconnects",
            f"{s.gateway_reconnects} / {s.gateway_resumes}, {s.voice_reconnects}",
            locale,
        ),
        _field("ops.f.rest", f"{s.rest_requests} / {s.rest_rate_limited}", locale),
        _field("ops.f.dropped", f"{s.events_dropped} / {s.supervisor_restarts}", locale),
        _field("ops.f.frames", f"{s.frames_sent} / {s.frames_late}", locale),
        _field("ops.f.process", f"{cpu} / {rss}", locale),
    ]


def metrics_embed(
    guild: GuildFigures, process: MetricsSnapshot | None, locale: str | None
) -> dict[str, Any]:
    """The guild's figures; with ``process`` (the owner) the process-wide ones first."""
    if process is None:
        return {
            "title": t("ops.metrics_guild_title", locale),
            "color": INFO_COLOUR,
            "fields": guild_fields(guild, locale),
        }
    fields = process_fields(process, locale)
    return {
        "title": t("ops.metrics_title", locale),
        "color": INFO_COLOUR,
        "fields": fields[:MAX_FIELDS],
    }


def reason_text(code: str, shard_id: int | None, locale: str | None) -> str:
    key = f"ops.r.{code}"
    if key not in i18n.EN:
        return code
    return t(key, locale, shard=shard_id if shard_id is not None else "?")


def health_embed(
    report: HealthReport, locale: str | None, *, shards: list[tuple[int, str, float | None]] | None
) -> dict[str, Any]:
    """Status, readiness and the reasons; ``shards`` (owner only): id, status, latency."""
    status = t(f"ops.status.{report.status.value}", locale)
    lines = ["• " + reason_text(r.code, r.shard_id, locale) for r in report.reasons[:MAX_REASONS]]
    fields = [
        _field("ops.ready", _yes(report.ready, locale), locale),
        {
            "name": t("ops.reasons", locale),
            "value": ("\n".join(lines) or t("ops.all_good", locale))[:1024],
            "inline": False,
        },
    ]
    fields.append({"name": "yt-dlp", "value": report.extractor_summary(), "inline": True})
    if shards is not None:
        age = report.rest_last_success_age
        ago = (
            t("ops.none", locale)
            if age is None
            else t("ops.seconds_ago", locale, seconds=f"{age:.0f}")
        )
        fields.append(_field("ops.rest_age", ago, locale))
        text = "\n".join(
            t("ops.shard_line", locale, shard=sid, status=st, latency=_ms(lat, locale))
            for sid, st, lat in shards
        )
        fields.append({"name": t("ops.shards", locale), "value": text[:1024] or "—"})
    return {
        "title": t("ops.health_title", locale, status=status),
        "color": COLOURS[report.status],
        "fields": fields,
    }


async def _allowed(g: Guild, inv: Invocation) -> bool:
    if g.deps.ops is None:
        await g.answer(inv, "ops.off", ephemeral=True)
        return False
    if not (is_owner(g, inv) or is_manager(inv)):
        await g.answer(inv, "ops.not_allowed", ephemeral=True)
        return False
    return True


async def metrics(g: Guild, inv: Invocation) -> None:
    if not await _allowed(g, inv) or g.deps.ops is None:
        return
    locale = g.lang(inv)
    m = g.deps.ops.metrics
    process = m.snapshot() if is_owner(g, inv) else None
    embeds = [metrics_embed(m.guild_snapshot(g.guild_id), None, locale)]
    if process is not None:
        embeds.insert(0, metrics_embed(m.guild_snapshot(g.guild_id), process, locale))
    await g.respond(inv, {"embeds": embeds}, ephemeral=True)


async def health(g: Guild, inv: Invocation) -> None:
    if not await _allowed(g, inv) or g.deps.ops is None:
        return
    locale = g.lang(inv)
    ops = g.deps.ops
    inputs = ops.health.health_inputs()
    report = evaluate(inputs, trio.current_time(), ops.thresholds)
    shards = None
    if is_owner(g, inv):
        shards = [
            (s.shard_id, s.status.value, s.latency)
            for s in sorted(inputs.shards, key=lambda s: s.shard_id)
        ]
    await g.respond(inv, {"embeds": [health_embed(report, locale, shards=shards)]}, ephemeral=True)


HANDLERS: Final[dict[str, Handler]] = {
    "metrics": metrics,
    "health": health,
}
FAMILY: Final = Family(
    name="ops",
    handlers=HANDLERS,
)
