"""yt-dlp options built from the config (plain data: they cross to a worker process)."""

from __future__ import annotations

import enum
import urllib.parse
from typing import Any, Final

from musicbot.config import ExtractorConfig
from musicbot.extract.runtime import js_runtimes

# Audio first; "best" covers sites that only offer muxed formats (the player drops the video).
FORMAT: Final = "bestaudio/best"


class Mode(enum.Enum):
    """What the text handed to yt-dlp is: a link, or a search query; picks the playlist and
    flattening options in :func:`build_options`."""

    URL = "url"  # one track, or a playlist flattened (entries resolved lazily)
    SEARCH = "search"  # "<provider><N>:<text>", flattened


def build_options(cfg: ExtractorConfig, *, mode: Mode, playlist_cap: int) -> dict[str, Any]:
    """The options dict for ``yt_dlp.YoutubeDL``, as plain JSON data (it crosses to a worker
    process, which adds its ``logger``).

    Always quiet, never downloads, never writes files.  ``noplaylist`` makes a link to a video
    inside a playlist mean the video; a link to the playlist itself is still a playlist and its
    entries are extracted flat (no request per entry) and capped at ``playlist_cap``.
    ``js_runtimes`` names the JavaScript runtime explicitly (:mod:`musicbot.extract.runtime`);
    remote solver components stay off: the solver comes from the installed ``yt-dlp-ejs``.
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
        "js_runtimes": js_runtimes(cfg.js_runtime),
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


def search_is_url(cfg: ExtractorConfig) -> bool:
    """``search_provider`` is a URL template (a local or self-hosted search page)."""
    return cfg.search_provider.startswith(("http://", "https://"))


def search_query(cfg: ExtractorConfig, text: str) -> str:
    """``ytsearch5:words`` from the provider and result count in the config, or the provider's
    URL template with the words filled in (``{query}``, URL-encoded; ``{count}`` optional)."""
    if search_is_url(cfg):
        return cfg.search_provider.replace("{query}", urllib.parse.quote(text, safe="")).replace(
            "{count}", str(cfg.search_results)
        )
    return f"{cfg.search_provider}{cfg.search_results}:{text}"
