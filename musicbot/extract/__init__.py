"""The yt-dlp protocol layer: options, info-dict parsing and error classification.

Only this package and the extractor actor know yt-dlp's dict shapes and exception types.
The public surface is ``__all__``: what an extraction returns
(:data:`~musicbot.extract.info.Extraction`), how it fails
(:class:`~musicbot.extract.errors.ExtractionError` with a
:class:`~musicbot.extract.errors.Reason`), and the options yt-dlp is run with.  yt-dlp itself
is only imported by :mod:`musicbot.extract.ytdlp`, inside the extraction worker processes.
"""

from musicbot.extract.errors import OPERATOR_FIX, ExtractionError, Reason, classify
from musicbot.extract.info import Extraction, PlaylistInfo, SearchInfo, TrackInfo
from musicbot.extract.options import Mode, build_options, search_is_url, search_query

__all__ = [
    "OPERATOR_FIX",
    "Extraction",
    "ExtractionError",
    "Mode",
    "PlaylistInfo",
    "Reason",
    "SearchInfo",
    "TrackInfo",
    "build_options",
    "classify",
    "search_is_url",
    "search_query",
]
