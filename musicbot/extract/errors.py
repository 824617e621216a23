"""Why an extraction failed, in words a user understands.

Theory: yt-dlp reports failures as ``DownloadError`` wrapping an ``ExtractorError`` whose
``cause`` is often a networking exception, and the wording comes from each site's extractor.
:func:`classify` first walks that chain for structured facts (an ``HTTPError`` status, a
``GeoRestrictedError``, an ``UnsupportedError``, a transport failure), then falls back on phrases
sites use ("Private video", "Sign in to confirm your age" …).  The result is a :class:`Reason`
with English and Vietnamese text; the full message stays in ``detail`` for the logs.
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import GeoRestrictedError, UnsupportedError

from musicbot.errors import MusicBotError
from musicbot.i18n import register, t


class Reason(enum.StrEnum):
    UNSUPPORTED = "unsupported"
    PRIVATE = "private"
    REMOVED = "removed"
    AGE_RESTRICTED = "age_restricted"
    GEO_BLOCKED = "geo_blocked"
    SIGN_IN = "sign_in"
    NETWORK = "network"
    TIMEOUT = "timeout"
    NO_RESULTS = "no_results"
    TOO_LONG = "too_long"
    UNKNOWN = "unknown"

    @property
    def key(self) -> str:
        return f"extract.{self.value}"

    @property
    def transient(self) -> bool:
        """Worth retrying soon, so not remembered by the negative cache."""
        return self in (Reason.NETWORK, Reason.TIMEOUT, Reason.UNKNOWN)


register(
    {
        "extract.unsupported": "I can't play links from this site.",
        "extract.private": "This track is private or access to it was refused.",
        "extract.removed": "This track was removed or doesn't exist.",
        "extract.age_restricted": "This track is age-restricted, so I can't play it.",
        "extract.geo_blocked": "This track isn't available in the bot's country.",
        "extract.sign_in": "The site wants me to sign in (or prove I'm not a bot) first.",
        "extract.network": "I couldn't reach the site. Try again in a moment.",
        "extract.timeout": "The site took too long to answer. Try again in a moment.",
        "extract.no_results": "Nothing was found.",
        "extract.too_long": "This track is longer than this server allows.",
        "extract.unknown": "Something went wrong while loading this track.",
    },
    {
        "extract.unsupported": "Mình không phát được liên kết từ trang này.",
        "extract.private": "Bài này ở chế độ riêng tư hoặc bị từ chối truy cập.",
        "extract.removed": "Bài này đã bị xoá hoặc không tồn tại.",
        "extract.age_restricted": "Bài này bị giới hạn độ tuổi nên mình không phát được.",
        "extract.geo_blocked": "Bài này không có ở quốc gia của bot.",
        "extract.sign_in": "Trang này yêu cầu đăng nhập (hoặc xác minh không phải bot) trước.",
        "extract.network": "Mình không kết nối được tới trang. Thử lại sau chút nhé.",
        "extract.timeout": "Trang phản hồi quá lâu. Thử lại sau chút nhé.",
        "extract.no_results": "Không tìm thấy kết quả nào.",
        "extract.too_long": "Bài này dài hơn mức máy chủ cho phép.",
        "extract.unknown": "Đã có lỗi khi tải bài này.",
    },
)


@attrs.define(auto_exc=True, eq=False)
class ExtractionError(MusicBotError):
    """yt-dlp could not give us a playable track; ``detail`` is for logs, not users."""

    reason: Reason
    detail: str = ""

    def text(self, locale: str | None = None) -> str:
        return t(self.reason.key, locale)

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


# Phrases sites put in their messages, checked in order (first match wins).
_PHRASES: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = (
    (Reason.AGE_RESTRICTED, re.compile(r"confirm your age|age[- ]restrict|inappropriate", re.I)),
    (Reason.PRIVATE, re.compile(r"private (video|track|playlist)|is private", re.I)),
    (
        Reason.SIGN_IN,
        re.compile(r"not a bot|sign in|log ?in|cookies|members[- ]only|premium", re.I),
    ),
    (Reason.GEO_BLOCKED, re.compile(r"your country|geo[- ]?restrict|not available in", re.I)),
    (
        Reason.REMOVED,
        re.compile(
            r"removed|does not exist|no longer available|unavailable|not found|deleted|"
            r"terminated|HTTP Error 404|HTTP Error 410",
            re.I,
        ),
    ),
    (Reason.UNSUPPORTED, re.compile(r"unsupported url|no video formats|no suitable", re.I)),
    (Reason.NETWORK, re.compile(r"timed out|connection|resolve|network|ssl", re.I)),
)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (yt-dlp's exc_info/cause, then Python's)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        exc_info = getattr(e, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            todo.append(exc_info[1])
        cause = getattr(e, "cause", None)
        todo.append(cause if isinstance(cause, BaseException) else None)
        todo.extend([e.__cause__, e.__context__])
    return seen


def _from_status(status: int) -> Reason | None:
    if status in (404, 410):
        return Reason.REMOVED
    if status in (401, 403):
        return Reason.PRIVATE
    if status == 429:
        return Reason.SIGN_IN  # rate limited: sites ask to sign in / prove not a bot
    if status >= 500:
        return Reason.NETWORK
    return None


def classify(exc: BaseException) -> ExtractionError:
    """Map a yt-dlp (or networking) exception to an :class:`ExtractionError`."""
    if isinstance(exc, ExtractionError):
        return exc
    detail = re.sub(r"^ERROR: ", "", str(exc)).strip()[:500]
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, GeoRestrictedError):
            return ExtractionError(Reason.GEO_BLOCKED, detail)
        if isinstance(e, UnsupportedError):
            return ExtractionError(Reason.UNSUPPORTED, detail)
        if isinstance(e, HTTPError):
            reason = _from_status(e.status)
            if reason is not None:
                return ExtractionError(reason, detail)
    for reason, pattern in _PHRASES:
        if pattern.search(detail):
            return ExtractionError(reason, detail)
    if any(isinstance(e, TransportError | TimeoutError | ConnectionError) for e in chain):
        return ExtractionError(Reason.NETWORK, detail)
    return ExtractionError(Reason.UNKNOWN, detail)
