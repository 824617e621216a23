"""The one blocking call into yt-dlp.  Runs in a worker thread, never on the trio loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yt_dlp

from musicbot.extract.errors import classify


def extract_info(query: str, opts: dict[str, Any], extra_extractors: Sequence[type] = ()) -> Any:
    """``YoutubeDL.extract_info(query, download=False)`` sanitized to plain data.

    ``extra_extractors`` (``InfoExtractor`` subclasses) are tried before yt-dlp's own, which is
    how a deployment (or a test without internet) adds a site or a search provider.
    Raises :class:`~musicbot.extract.errors.ExtractionError`.
    """
    try:
        ydl = yt_dlp.YoutubeDL(opts, auto_init=not extra_extractors)
        with ydl:
            if extra_extractors:
                for ie in extra_extractors:
                    ydl.add_info_extractor(ie())
                ydl.add_default_info_extractors()
            info = ydl.extract_info(query, download=False)
            return ydl.sanitize_info(info)
    except Exception as exc:  # yt-dlp raises many types; classify() sorts them out
        raise classify(exc) from exc
