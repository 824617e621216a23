"""The one blocking call into yt-dlp.  Runs in a worker process, never in the audio process."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from musicbot.extract.errors import classify

MAX_WARNINGS = 20
MAX_MESSAGE = 500


class CollectingLogger:
    """The ``logger`` yt-dlp accepts.  Warnings are kept (they cross back to the actor, which
    logs them and uses them to classify a failure); debug and info lines are dropped: they
    are chatty and may carry signed URLs."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(str(msg)[:MAX_MESSAGE])

    def error(self, msg: str) -> None:
        pass  # the same failure is raised as an exception and classified


def load_extractor(ref: str) -> type:
    """``"package.module:ClassName"`` → the class (an ``InfoExtractor`` subclass)."""
    module, _, name = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise TypeError(f"{ref} is not a class")
    return obj


def extract_info(
    query: str,
    opts: dict[str, Any],
    extra_extractors: Sequence[type] = (),
    logger: CollectingLogger | None = None,
) -> Any:
    """``YoutubeDL.extract_info(query, download=False)`` sanitized to plain data.

    ``extra_extractors`` (``InfoExtractor`` subclasses) are tried before yt-dlp's own, which is
    how a deployment (or a test without internet) adds a site.  Plugins installed in the
    environment (``yt_dlp_plugins`` packages) are loaded by yt-dlp itself.
    Raises :class:`~musicbot.extract.errors.ExtractionError`.
    """
    import yt_dlp

    logger = logger or CollectingLogger()
    try:
        ydl = yt_dlp.YoutubeDL({**opts, "logger": logger}, auto_init=not extra_extractors)
        with ydl:
            if extra_extractors:
                for ie in extra_extractors:
                    ydl.add_info_extractor(ie())
                ydl.add_default_info_extractors()
            info = ydl.extract_info(query, download=False)
            return ydl.sanitize_info(info)
    except Exception as exc:  # yt-dlp raises many types; classify() sorts them out
        raise classify(exc, logger.warnings) from exc


def supports_ranges(url: str, headers: dict[str, str], opts: dict[str, Any]) -> bool | None:
    """Does the host at ``url`` honour ``Range``?  One request for the first byte, through
    yt-dlp's networking (its proxy: the egress guard).  None when it cannot tell (an error)."""
    import yt_dlp
    from yt_dlp.networking import Request
    from yt_dlp.networking.exceptions import RequestError

    try:
        with yt_dlp.YoutubeDL({**opts, "logger": CollectingLogger()}) as ydl:
            response = ydl.urlopen(Request(url, headers={**headers, "Range": "bytes=0-0"}))
            try:
                return int(response.status) == 206
            finally:
                response.close()
    except (RequestError, OSError, ValueError):
        return None
