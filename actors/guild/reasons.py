"""One sentence a user understands for any failure, in their language."""

from __future__ import annotations

from musicbot import i18n
from musicbot.audio.errors import (
    SourceCrashedError,
    SourceDecodeError,
    SourceOpenError,
    SourceStalledError,
)
from musicbot.errors import ActorDeadError, ActorTimeoutError
from musicbot.extract.errors import ExtractionError
from musicbot.safety import Refusal

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
