"""Why an extraction failed, in words a user understands, and what the operator can do.

Theory: yt-dlp reports failures as ``DownloadError`` wrapping an ``ExtractorError`` whose
``cause`` is often a networking exception, and the wording comes from each site's extractor.
:func:`classify` first walks that chain for structured facts (an ``HTTPError`` status, a
``GeoRestrictedError``, an ``UnsupportedError``, a transport failure), then falls back on phrases
sites use ("Sign in to confirm you're not a bot", "Sign in to confirm your age", "Join this
channel …" …).  Some failures only make sense with the warnings yt-dlp printed before it gave
up: "Requested format is not available" after "formats require a GVS PO Token" means a PO token
is missing, after "n challenge solving failed" that the JavaScript challenge was not solved.
The result is a :class:`Reason` with English and Vietnamese text for the member, and
``OPERATOR_FIX`` says what the operator can change; the message stays in ``detail``.

This runs in the extractor's worker processes (yt-dlp's exception objects never leave them),
so the yt-dlp imports are inside the functions: the audio process never needs them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Final

import attrs

from musicbot.errors import MusicBotError
from musicbot.i18n import register, t


class Reason(enum.StrEnum):
    """Why an extraction failed.  The value is what crosses from the worker process and
    names the i18n key (``key``) and the ``reason`` label of logs and metrics."""

    UNSUPPORTED = "unsupported"
    PRIVATE = "private"
    REMOVED = "removed"
    AGE_RESTRICTED = "age_restricted"
    GEO_BLOCKED = "geo_blocked"
    SIGN_IN = "sign_in"
    BOT_CHECK = "bot_check"  # "Sign in to confirm you're not a bot", captcha, rate limit
    MEMBERS_ONLY = "members_only"
    PO_TOKEN = "po_token"  # formats need a proof-of-origin token the bot does not have
    CHALLENGE = "challenge"  # YouTube's JavaScript challenge was not solved
    STREAM_FORBIDDEN = "stream_forbidden"  # HTTP 403 on the stream URL when it opens
    STREAM_EXPIRED = "stream_expired"  # the stream URL stopped working mid-song
    WORKER = "worker"  # the extraction worker process died
    NETWORK = "network"
    TIMEOUT = "timeout"
    NO_RESULTS = "no_results"
    TOO_LONG = "too_long"
    # Spotify links (musicbot.spotify, which registers their texts):
    SPOTIFY_UNCONFIGURED = "spotify_unconfigured"  # [spotify] client_id/client_secret unset
    SPOTIFY_NOT_FOUND = "spotify_not_found"  # 404, or an album/playlist with nothing playable
    SPOTIFY_UNAVAILABLE = "spotify_unavailable"  # 5xx, 429 too long, timeout, refused keys
    NO_MATCH = "no_match"  # no search result fits a Spotify track (musicbot.spotify.NoMatch)
    UNKNOWN = "unknown"

    @property
    def key(self) -> str:
        """The i18n key of the member-facing text, ``extract.<value>``."""
        return f"extract.{self.value}"

    @property
    def transient(self) -> bool:
        """Worth retrying soon, so not remembered by the negative cache."""
        return self in (
            Reason.NETWORK,
            Reason.TIMEOUT,
            Reason.UNKNOWN,
            Reason.WORKER,
            Reason.BOT_CHECK,
            Reason.STREAM_FORBIDDEN,
            Reason.STREAM_EXPIRED,
            Reason.SPOTIFY_UNAVAILABLE,
        )


# What the operator can change, logged once (per reason and hour) with the failure.
OPERATOR_FIX: Final[dict[Reason, str]] = {
    Reason.BOT_CHECK: (
        "YouTube wants this server's address to prove it is not a bot: set [extractor] "
        "cookies_file (cookies of a throwaway account), install the PO token provider "
        "(pip install '.[youtube-pot]'), or send yt-dlp through [extractor] proxy; "
        "see docs/operations.md, 'When YouTube fights back'"
    ),
    Reason.AGE_RESTRICTED: (
        "age-restricted videos need cookies of an account that confirmed its age: set "
        "[extractor] cookies_file"
    ),
    Reason.GEO_BLOCKED: (
        "not available in this server's country: set [extractor] proxy to one in another country"
    ),
    Reason.MEMBERS_ONLY: (
        "members-only videos need cookies of an account that is a member of the channel: set "
        "[extractor] cookies_file"
    ),
    Reason.SIGN_IN: "the site wants a signed-in account: set [extractor] cookies_file",
    Reason.PO_TOKEN: (
        "YouTube's formats need a proof-of-origin (PO) token: pip install '.[youtube-pot]' and run "
        "the bgutil provider (docs/operations.md), or pass one in [extractor] extractor_args"
    ),
    Reason.CHALLENGE: (
        "yt-dlp could not solve YouTube's JavaScript challenge: run `python -m musicbot doctor`, "
        "check [extractor] js_runtime, and update yt-dlp (make update-extractor)"
    ),
    Reason.STREAM_FORBIDDEN: (
        "the stream host refused the URL yt-dlp produced (HTTP 403): update yt-dlp "
        "(make update-extractor); if it persists, add a PO token provider or cookies"
    ),
    Reason.STREAM_EXPIRED: (
        "a stream URL expired mid-song and was refreshed; nothing to do unless it is frequent "
        "(then lower [cache] stream_ttl)"
    ),
    Reason.WORKER: "an extraction worker process died; see the log lines before this one",
    Reason.SPOTIFY_UNCONFIGURED: (
        "members pasted Spotify links: create an app at developer.spotify.com and set "
        "[spotify] client_id and client_secret (or MUSICBOT_SPOTIFY_CLIENT_SECRET)"
    ),
}


register(
    {
        "extract.unsupported": "I can't play links from this site.",
        "extract.private": "This track is private or access to it was refused.",
        "extract.removed": "This track was removed or doesn't exist.",
        "extract.age_restricted": "This track is age-restricted, so I can't play it.",
        "extract.geo_blocked": "This track isn't available in the bot's country.",
        "extract.sign_in": "The site wants me to sign in first.",
        "extract.bot_check": "The site thinks I'm a bot and refused. Try again later.",
        "extract.members_only": "This track is for the channel's members only.",
        "extract.po_token": "The site refused to hand out this track right now.",
        "extract.challenge": "I couldn't get past the site's protection for this track.",
        "extract.stream_forbidden": "The site refused to stream this track.",
        "extract.stream_expired": "The stream link expired and couldn't be renewed.",
        "extract.worker": "Loading this track crashed. Try again in a moment.",
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
        "extract.sign_in": "Trang này yêu cầu đăng nhập trước.",
        "extract.bot_check": "Trang này nghĩ mình là bot và đã từ chối. Thử lại sau nhé.",
        "extract.members_only": "Bài này chỉ dành cho hội viên của kênh.",
        "extract.po_token": "Trang này tạm thời không cho tải bài này.",
        "extract.challenge": "Mình không vượt qua được lớp bảo vệ của trang cho bài này.",
        "extract.stream_forbidden": "Trang này từ chối phát bài này.",
        "extract.stream_expired": "Đường dẫn phát đã hết hạn và không làm mới được.",
        "extract.worker": "Việc tải bài này bị lỗi đột ngột. Thử lại sau chút nhé.",
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
        """The member-facing explanation of ``reason`` in ``locale`` (the default when
        ``None``); never includes ``detail``."""
        return t(self.reason.key, locale)

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


# Phrases sites put in their messages, checked in order (first match wins).
_PHRASES: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = (
    (
        Reason.BOT_CHECK,
        re.compile(
            r"not a bot|captcha|rate-limited|content isn.t available, try again later", re.I
        ),
    ),
    (
        Reason.MEMBERS_ONLY,
        re.compile(r"members[- ]only|join this channel|available to this channel.s members", re.I),
    ),
    (Reason.PO_TOKEN, re.compile(r"\bPO Token\b", re.I)),
    (Reason.CHALLENGE, re.compile(r"challenge solving failed|signature solving failed", re.I)),
    (Reason.AGE_RESTRICTED, re.compile(r"confirm your age|age[- ]restrict|inappropriate", re.I)),
    (Reason.PRIVATE, re.compile(r"private (video|track|playlist)|is private", re.I)),
    (
        Reason.SIGN_IN,
        re.compile(r"sign in|log ?in|cookies|premium|registered users", re.I),
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
    (
        Reason.UNSUPPORTED,
        re.compile(r"unsupported url|no video formats|no suitable|requested format is not", re.I),
    ),
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


# Warnings yt-dlp prints before a "no formats" failure that tell why the formats went missing.
_NO_FORMATS = re.compile(r"requested format is not available|no video formats|only images", re.I)
_WARNED: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = (
    (Reason.PO_TOKEN, re.compile(r"\bPO Token\b", re.I)),
    (
        Reason.CHALLENGE,
        re.compile(
            r"challenge solving failed|signature solving failed|no supported javascript runtime",
            re.I,
        ),
    ),
)


def _from_status(status: int) -> Reason | None:
    if status in (404, 410):
        return Reason.REMOVED
    if status in (401, 403):
        return Reason.PRIVATE
    if status == 429:
        return Reason.BOT_CHECK  # rate limited: the site wants proof that we are not a bot
    if status >= 500:
        return Reason.NETWORK
    return None


def classify(exc: BaseException, warnings: Sequence[str] = ()) -> ExtractionError:
    """Map a yt-dlp (or networking) exception to an :class:`ExtractionError`.

    ``warnings`` are what yt-dlp warned about during the same extraction."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import GeoRestrictedError, UnsupportedError

    if isinstance(exc, ExtractionError):
        return exc
    detail = re.sub(r"^ERROR: ", "", str(exc)).strip()[:500]
    if _NO_FORMATS.search(detail):
        for warned, pattern in _WARNED:
            if any(pattern.search(w) for w in warnings):
                return ExtractionError(warned, detail)
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, GeoRestrictedError):
            return ExtractionError(Reason.GEO_BLOCKED, detail)
        if isinstance(e, UnsupportedError):
            return ExtractionError(Reason.UNSUPPORTED, detail)
        if isinstance(e, HTTPError):
            by_status = _from_status(e.status)
            if by_status is not None:
                return ExtractionError(by_status, detail)
    for reason, pattern in _PHRASES:
        if pattern.search(detail):
            return ExtractionError(reason, detail)
    if any(isinstance(e, TransportError | TimeoutError | ConnectionError) for e in chain):
        return ExtractionError(Reason.NETWORK, detail)
    return ExtractionError(Reason.UNKNOWN, detail)
