from __future__ import annotations

import errno
import string
from pathlib import Path

import pytest

from musicbot.i18n import EN, VI
from musicbot.storage import (
    AlreadyExists,
    CorruptFile,
    DiskFull,
    InvalidName,
    InvalidPosition,
    LimitReached,
    NotFound,
    PermissionDenied,
    StorageError,
    StorageIOError,
)
from musicbot.storage.errors import Conflict, CorruptRow, DatabaseUnavailable, from_os_error

PATH = Path("/srv/musicbot/data/guilds/1/playlists/chill-0123456789abcdef.json")

ERRORS: list[StorageError] = [
    NotFound("guild", "Chill"),
    NotFound("user", "Chill"),
    AlreadyExists("user", "chill", "Chill"),
    LimitReached("playlists", 25, 26),
    LimitReached("tracks", 500, 510),
    *(InvalidName("x", p) for p in ("empty", "too_long", "bad_chars", "reserved", "leading_dot")),
    InvalidPosition(9, 3),
    DiskFull(PATH),
    PermissionDenied(PATH, "write"),
    CorruptFile(PATH, "not valid JSON"),
    StorageIOError(PATH, "write", errno.EIO, "Input/output error"),
    CorruptRow(PATH, "not valid JSON"),
    DatabaseUnavailable("postgresql://db.example:5432/musicbot", "connection refused"),
    DatabaseUnavailable("postgresql://db.example:5432/musicbot", "lost", maybe_saved=True),
    Conflict("settings of guild 1", 3, 4),
]


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_storage_texts_exist_in_both_languages_with_the_same_placeholders() -> None:
    keys = [k for k in EN if k.startswith("storage.")]
    assert len(keys) >= 15
    for k in keys:
        assert _fields(EN[k]) == _fields(VI[k]), k


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: f"{type(e).__name__}")
def test_every_error_has_user_text_in_english_and_vietnamese(error: StorageError) -> None:
    en, vi = error.user_message("en-US"), error.user_message("vi")
    assert en and vi and en != vi
    assert "{" not in en and "{" not in vi
    # Users never see server paths; operators see them in str() (logs).
    assert str(PATH) not in en and str(PATH) not in vi
    if hasattr(error, "path"):
        assert str(PATH) in str(error)
    assert isinstance(error, StorageError)


def test_os_errors_map_to_typed_errors() -> None:
    assert isinstance(from_os_error(OSError(errno.ENOSPC, "x"), PATH, "write"), DiskFull)
    assert isinstance(from_os_error(OSError(errno.EDQUOT, "x"), PATH, "write"), DiskFull)
    for code in (errno.EACCES, errno.EPERM, errno.EROFS):
        assert isinstance(from_os_error(OSError(code, "x"), PATH, "write"), PermissionDenied)
    other = from_os_error(OSError(errno.EIO, "Input/output error"), PATH, "write")
    assert isinstance(other, StorageIOError) and other.code == errno.EIO
