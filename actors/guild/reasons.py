"""One sentence a user understands for any failure, in their language; and what a failed
stream means.

Theory of a stream failure.  A stream URL the site handed out (googlevideo for YouTube) can be
refused with HTTP 403 when the player opens it (the URL was bad from the start: a missing PO
token, a stale yt-dlp) or stop working mid-song (signed URLs expire; YouTube's last ~6 h).
:func:`classify_playback` names these two as ``Reason.STREAM_FORBIDDEN`` and
``Reason.STREAM_EXPIRED`` (so the member's text, the log and the ``reason`` label of
``musicbot_tracks_failed_total`` say which), and :func:`should_refresh` tells the playback
whether to ask the extractor for a new URL (``ExtractorHandle.refresh``) and resume at the
position: once per entry, and only for a URL refusal, never for a decode error.
"""

from __future__ import annotations

from musicbot import i18n
from musicbot.audio.errors import (
    SourceCrashedError,
    SourceDecodeError,
    SourceOpenError,
    SourceStalledError,
)
from musicbot.errors import ActorDeadError, ActorTimeoutError
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.safety import Refusal

# A stream that played this long (seconds) before it was refused had a URL that worked: it
# expired (or was revoked) mid-song.
PLAYED_BEFORE_EXPIRY = 1.0
# Statuses a stream host answers an expired or refused signed URL with.
_REFUSED = (401, 403, 410)

i18n.register(
    {
        "audio.cannot_open": "the audio could not be opened (the link may have expired).",
        "audio.decode": "the audio could not be decoded.",
        "audio.crashed": "the audio stream broke off.",
        "audio.stalled": "the audio source stopped sending data.",
        "audio.busy": "the music service is busy right now; try again in a moment.",
        "audio.unknown": "something went wrong while playing it.",
    },
    {
        "audio.cannot_open": "không mở được âm thanh (đường dẫn có thể đã hết hạn).",
        "audio.decode": "không giải mã được âm thanh.",
        "audio.crashed": "luồng âm thanh bị ngắt giữa chừng.",
        "audio.stalled": "nguồn âm thanh ngừng gửi dữ liệu.",
        "audio.busy": "dịch vụ nhạc đang bận; hãy thử lại sau giây lát.",
        "audio.unknown": "có lỗi xảy ra khi phát bài này.",
    },
)


def failure_text(error: BaseException | None, locale: str | None) -> str:
    if isinstance(error, ExtractionError | Refusal):
        return error.text(locale)
    key = "audio.unknown"
    if isinstance(error, SourceOpenError):
        key = "audio.cannot_open"
    elif isinstance(error, SourceDecodeError):
        key = "audio.decode"
    elif isinstance(error, SourceCrashedError):
        key = "audio.crashed"
    elif isinstance(error, SourceStalledError):
        key = "audio.stalled"
    elif isinstance(error, ActorTimeoutError | ActorDeadError):
        key = "audio.busy"
    return i18n.t(key, locale)


def stream_refused(error: BaseException | None) -> bool:
    """The player could not (or could no longer) open the stream URL: an HTTP refusal."""
    return isinstance(error, SourceOpenError) and (
        error.status in _REFUSED or (error.reason == "http_status" and error.status is None)
    )


def classify_playback(error: BaseException | None, *, position: float) -> BaseException | None:
    """A player failure in the terms of the extraction reasons, where it is one of them.

    ``position`` is where playback was (seconds) when it failed.  A refusal at the start is
    ``STREAM_FORBIDDEN``; after some playing it is ``STREAM_EXPIRED``.  Other errors are
    returned unchanged (``failure_text`` knows them)."""
    if not stream_refused(error):
        return error
    assert isinstance(error, SourceOpenError)
    status = f"HTTP {error.status}" if error.status is not None else "HTTP error"
    if position >= PLAYED_BEFORE_EXPIRY:
        return ExtractionError(Reason.STREAM_EXPIRED, f"{status} at {position:.1f} s")
    return ExtractionError(Reason.STREAM_FORBIDDEN, f"{status} when opening the stream")


def should_refresh(error: BaseException | None, *, refreshed_already: bool) -> bool:
    """Ask the extractor for a fresh URL and resume at the position (at most once)."""
    return not refreshed_already and stream_refused(error)
