"""What /playlist shows: list, pages, the delete confirmation, and their en/vi text.

Component custom ids carry everything a click needs, so the actor keeps no pending state:
``playlist:page:<g|p>:<page>:<name>`` and ``playlist:<delete|keep>:<g|p>:<expiry>:<name>``
(a playlist name never contains ``:``; at most 64 characters, so an id fits in 100).
"""

from __future__ import annotations

import time
from typing import Any, Final, Literal

from actors.guild import views
from musicbot.i18n import register, t
from musicbot.storage import Page, Playlist, PlaylistIndex

ScopeName = Literal["guild", "personal"]
CONFIRM_TTL: Final = 300  # seconds a delete confirmation stays valid
MAX_CUSTOM_ID: Final = 100  # Discord's limit on a component custom_id
PAGE_PREFIX: Final = "playlist:page"
DELETE_PREFIX: Final = "playlist:delete"
KEEP_PREFIX: Final = "playlist:keep"
OVERWRITE_PREFIX: Final = "playlist:overwrite"
SCOPE_CODE: Final[dict[ScopeName, str]] = {"guild": "g", "personal": "p"}
CODE_SCOPE: Final[dict[str, ScopeName]] = {"g": "guild", "p": "personal"}


def where(scope: ScopeName, lang: str | None) -> str:
    return t(f"playlist.where.{scope}", lang)


def button(custom_id: str, label: str, style: int, *, disabled: bool = False) -> dict[str, Any]:
    return {
        "type": views.COMPONENT_BUTTON,
        "style": style,
        "label": label[:80],
        "custom_id": custom_id,
        "disabled": disabled,
    }


def index_body(index: PlaylistIndex, where_text: str, lang: str | None) -> dict[str, Any]:
    """/playlist list: each readable playlist, and how many files could not be read."""
    lines = [
        t(
            "playlist.list_line",
            lang,
            name=p.name,
            count=p.track_count,
            duration=views.format_duration(p.total_duration, lang),
        )
        for p in index.playlists
    ]
    if index.unreadable:
        lines.append(t("playlist.unreadable", lang, count=len(index.unreadable)))
    embed = {
        "title": t("playlist.list_title", lang, where=where_text),
        "description": "\n".join(lines)[:4096],
        "color": views.EMBED_COLOUR,
    }
    return {"embeds": [embed]}


def playlist_page(
    playlist: Playlist, page: Page, scope: ScopeName, lang: str | None
) -> dict[str, Any]:
    """The body of /playlist show: one page of tracks, with previous/next buttons."""
    lines = [
        f"`{pos}.` {track.title} ({views.track_length(track, lang)})" for pos, track in page.items
    ] or [t("playlist.empty", lang, name=playlist.name)]
    embed = {
        "title": t(
            "playlist.show_title", lang, name=playlist.name, page=page.page, pages=page.pages
        ),
        "description": "\n".join(lines)[:4096],
        "color": views.EMBED_COLOUR,
        "footer": {
            "text": t(
                "playlist.show_footer",
                lang,
                count=page.total,
                duration=views.format_duration(page.total_duration, lang),
            )
        },
    }
    body: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    code = SCOPE_CODE[scope]
    prev_id = f"{PAGE_PREFIX}:{code}:{page.page - 1}:{playlist.name}"
    next_id = f"{PAGE_PREFIX}:{code}:{page.page + 1}:{playlist.name}"
    if page.pages > 1 and max(len(prev_id), len(next_id)) <= MAX_CUSTOM_ID:
        buttons = [
            button(
                prev_id,
                t("button.prev_page", lang),
                views.BUTTON_SECONDARY,
                disabled=page.page <= 1,
            ),
            button(
                next_id,
                t("button.next_page", lang),
                views.BUTTON_SECONDARY,
                disabled=page.page >= page.pages,
            ),
        ]
        body["components"] = [{"type": views.COMPONENT_ROW, "components": buttons}]
    return body


def delete_confirmation(playlist: Playlist, scope: ScopeName, lang: str | None) -> dict[str, Any]:
    """Ask before deleting: Delete / Keep buttons valid for ``CONFIRM_TTL`` seconds."""
    token = f"{SCOPE_CODE[scope]}:{int(time.time()) + CONFIRM_TTL}:{playlist.name}"
    buttons = [
        button(f"{DELETE_PREFIX}:{token}", t("playlist.delete_yes", lang), views.BUTTON_DANGER),
        button(f"{KEEP_PREFIX}:{token}", t("playlist.delete_no", lang), views.BUTTON_SECONDARY),
    ]
    return {
        "content": t(
            "playlist.delete_confirm", lang, name=playlist.name, count=len(playlist.tracks)
        ),
        "components": [{"type": views.COMPONENT_ROW, "components": buttons}],
    }


def overwrite_confirmation(
    playlist: Playlist, scope: ScopeName, lang: str | None
) -> dict[str, Any]:
    """/playlist save of a taken name: Overwrite / Keep it, valid for ``CONFIRM_TTL`` s."""
    token = f"{SCOPE_CODE[scope]}:{int(time.time()) + CONFIRM_TTL}:{playlist.name}"
    buttons = [
        button(
            f"{OVERWRITE_PREFIX}:{token}", t("playlist.overwrite_yes", lang), views.BUTTON_DANGER
        ),
        button(f"{KEEP_PREFIX}:{token}", t("playlist.delete_no", lang), views.BUTTON_SECONDARY),
    ]
    return {
        "content": t(
            "playlist.overwrite_confirm", lang, name=playlist.name, count=len(playlist.tracks)
        ),
        "components": [{"type": views.COMPONENT_ROW, "components": buttons}],
    }


def parse_token(name: str) -> tuple[ScopeName, int, str] | None:
    """(scope, expiry, name) of ``playlist:<delete|keep>:<g|p>:<expiry>:<name>``."""
    parts = name.split(":", 4)
    if (
        len(parts) != 5
        or parts[2] not in CODE_SCOPE
        or not (parts[3].isascii() and parts[3].isdigit())
    ):
        return None
    return CODE_SCOPE[parts[2]], int(parts[3]), parts[4]


register(
    en={
        "playlist.where.guild": "this server's playlists",
        "playlist.where.personal": "your personal playlists",
        "playlist.personal_unavailable": "Personal playlists are not available right now.",
        "playlist.nothing_to_save": "The queue is empty: there is nothing to save.",
        "playlist.saved": "Saved {count} tracks as **{name}** in {where}.",
        "playlist.saved.one": "Saved 1 track as **{name}** in {where}.",
        "playlist.empty": "The playlist **{name}** has no tracks.",
        "playlist.loaded": "Added {count} tracks from **{name}** to the queue.",
        "playlist.loaded.one": "Added 1 track from **{name}** to the queue.",
        "playlist.loaded_replaced": "Replaced the queue with {count} tracks from **{name}**.",
        "playlist.loaded_replaced.one": "Replaced the queue with 1 track from **{name}**.",
        "playlist.loaded_partly": "The queue is full, so {skipped} tracks were left out.",
        "playlist.none": "There are no saved playlists in {where} yet.",
        "playlist.list_title": "Saved playlists — {where}",
        "playlist.list_line": "**{name}** — {count} tracks ({duration})",
        "playlist.list_line.one": "**{name}** — 1 track ({duration})",
        "playlist.unreadable": "{count} damaged playlist file(s) could not be read.",
        "playlist.show_title": "{name} — page {page}/{pages}",
        "playlist.show_footer": "{count} tracks · {duration}",
        "playlist.show_footer.one": "1 track · {duration}",
        "playlist.not_allowed": (
            "Only the creator of **{name}**, a DJ or a server manager may change it."
        ),
        "playlist.full": "That playlist already has the maximum of {limit} tracks.",
        "playlist.added": "Added **{title}** to **{name}** at position {position}.",
        "playlist.removed": "Removed **{title}** from **{name}** ({count} tracks left).",
        "playlist.removed.one": "Removed **{title}** from **{name}** (1 track left).",
        "playlist.renamed": "Renamed **{old}** to **{new}**.",
        "playlist.delete_confirm": "Delete the playlist **{name}** ({count} tracks) for good?",
        "playlist.delete_confirm.one": "Delete the playlist **{name}** (1 track) for good?",
        "playlist.delete_yes": "Delete",
        "playlist.delete_no": "Keep it",
        "playlist.deleted": "Deleted the playlist **{name}**.",
        "playlist.kept": "Kept the playlist **{name}**.",
        "playlist.delete_expired": "This confirmation has expired; run /playlist delete again.",
        "playlist.overwrite_confirm": (
            "A playlist named **{name}** ({count} tracks) already exists. "
            "Replace its tracks with the current queue?"
        ),
        "playlist.overwrite_confirm.one": (
            "A playlist named **{name}** (1 track) already exists. "
            "Replace its tracks with the current queue?"
        ),
        "playlist.overwrite_yes": "Overwrite",
        "playlist.overwrite_expired": "This confirmation has expired; run /playlist save again.",
    },
    vi={
        "playlist.where.guild": "danh sách phát của máy chủ",
        "playlist.where.personal": "danh sách phát cá nhân của bạn",
        "playlist.personal_unavailable": "Hiện không dùng được danh sách phát cá nhân.",
        "playlist.nothing_to_save": "Hàng đợi đang trống: không có gì để lưu.",
        "playlist.saved": "Đã lưu {count} bài thành **{name}** trong {where}.",
        "playlist.empty": "Danh sách phát **{name}** không có bài nào.",
        "playlist.loaded": "Đã thêm {count} bài từ **{name}** vào hàng đợi.",
        "playlist.loaded_replaced": "Đã thay hàng đợi bằng {count} bài từ **{name}**.",
        "playlist.loaded_partly": "Hàng đợi đã đầy nên {skipped} bài không được thêm.",
        "playlist.none": "Chưa có danh sách phát nào được lưu trong {where}.",
        "playlist.list_title": "Danh sách phát đã lưu — {where}",
        "playlist.list_line": "**{name}** — {count} bài ({duration})",
        "playlist.unreadable": "Không đọc được {count} tệp danh sách phát bị hỏng.",
        "playlist.show_title": "{name} — trang {page}/{pages}",
        "playlist.show_footer": "{count} bài · {duration}",
        "playlist.not_allowed": (
            "Chỉ người tạo **{name}**, DJ hoặc người quản lý máy chủ mới được thay đổi nó."
        ),
        "playlist.full": "Danh sách phát này đã có tối đa {limit} bài.",
        "playlist.added": "Đã thêm **{title}** vào **{name}** ở vị trí {position}.",
        "playlist.removed": "Đã xóa **{title}** khỏi **{name}** (còn {count} bài).",
        "playlist.renamed": "Đã đổi tên **{old}** thành **{new}**.",
        "playlist.delete_confirm": "Xóa vĩnh viễn danh sách phát **{name}** ({count} bài)?",
        "playlist.delete_yes": "Xóa",
        "playlist.delete_no": "Giữ lại",
        "playlist.deleted": "Đã xóa danh sách phát **{name}**.",
        "playlist.kept": "Đã giữ lại danh sách phát **{name}**.",
        "playlist.delete_expired": "Xác nhận này đã hết hạn; hãy chạy lại /playlist delete.",
        "playlist.overwrite_confirm": (
            "Đã có danh sách phát tên **{name}** ({count} bài). "
            "Thay các bài của nó bằng hàng đợi hiện tại?"
        ),
        "playlist.overwrite_yes": "Ghi đè",
        "playlist.overwrite_expired": "Xác nhận này đã hết hạn; hãy chạy lại /playlist save.",
    },
)
