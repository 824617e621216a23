"""yt-dlp options built from the config, and a logger that routes yt-dlp into structlog."""

from __future__ import annotations

import enum
from typing import Any, Final

import structlog

from musicbot.config import ExtractorConfig

log = structlog.get_logger("musicbot.extract.ytdlp")

# Audio first; "best" covers sites that only offer muxed formats (the player drops the video).
FORMAT: Final = "bestaudio/best"


class Mode(enum.Enum):
    URL = "url"  # one track, or a playlist flattened (entries resolved lazily)
    SEARCH = "search"  # "<provider><N>:<text>", flattened


class YtdlLogger:
    """The ``logger`` object yt-dlp accepts: debug/info/warning/error methods.

    yt-dlp sends both debug and info through ``debug`` (info lines start with ``[``); they are
    chatty and go to debug.  Messages may contain URLs with signed query strings, which are
    logged only at debug level.
    """

    def __init__(self, **fields: Any) -> None:
        self._log = log.bind(**fields)

    def debug(self, msg: str) -> None:
        self._log.debug("ytdlp_debug", message=msg)

    def info(self, msg: str) -> None:
        self._log.debug("ytdlp_info", message=msg)

    def warning(self, msg: str) -> None:
        self._log.warning("ytdlp_warning", message=msg)

    def error(self, msg: str) -> None:
        # The same failure is raised as an exception and logged by the extractor with its
        # classification, so this copy is kept at debug level.
        self._log.debug("ytdlp_error", message=msg)


def build_options(
    cfg: ExtractorConfig, *, mode: Mode, playlist_cap: int, logger: YtdlLogger | None = None
) -> dict[str, Any]:
    """The options dict for ``yt_dlp.YoutubeDL``.

    Always quiet, never downloads, never writes files.  ``noplaylist`` makes a link to a video
    inside a playlist mean the video; a link to the playlist itself is still a playlist and its
    entries are extracted flat (no request per entry) and capped at ``playlist_cap``.
    """
    opts: dict[str, Any] = {
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "skip_download": True,
        "simulate": True,
        "format": FORMAT,
        "noplaylist": mode is Mode.URL,
        "extract_flat": "in_playlist" if mode is Mode.URL else True,
        "playlistend": playlist_cap,
        "lazy_playlist": True,
        "socket_timeout": cfg.timeout,
        "ignoreerrors": False,
        "cachedir": False,
        "color": {"stdout": "never", "stderr": "never"},
        "logger": logger or YtdlLogger(),
    }
    if cfg.cookies_file:
        opts["cookiefile"] = cfg.cookies_file
    if cfg.user_agent:
        opts["http_headers"] = {"User-Agent": cfg.user_agent}
    if cfg.proxy:
        opts["proxy"] = cfg.proxy
    if cfg.extractor_args:
        opts["extractor_args"] = {
            ie: {k: list(v) for k, v in args.items()} for ie, args in cfg.extractor_args.items()
        }
    return opts


def search_query(cfg: ExtractorConfig, text: str) -> str:
    """``ytsearch5:words`` from the provider and result count in the config."""
    return f"{cfg.search_provider}{cfg.search_results}:{text}"
