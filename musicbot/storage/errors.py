"""Typed storage errors and their user-facing text (English and Vietnamese).

Errors carry fields (the path, the name, the limit); ``str()`` is the technical English text for
logs and names the file.  ``user_message(locale)`` is what a command shows a Discord user: it never
shows a server path, and it always says whether anything was changed.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import ClassVar, Literal

import attrs

from musicbot.errors import MusicBotError
from musicbot.i18n import register, t

Scope = Literal["guild", "user"]


@attrs.define(auto_exc=True, eq=False)
class StorageError(MusicBotError):
    """Base of every storage error."""

    key: ClassVar[str] = "storage.io_error"

    def params(self, locale: str | None) -> dict[str, object]:
        """The values the message's text needs (none here)."""
        return {}

    def user_message(self, locale: str | None = None) -> str:
        """The message for a member, in ``locale`` (English when None)."""
        return t(self.key, locale, **self.params(locale))


def _where(scope: Scope, locale: str | None) -> str:
    return t(f"storage.scope.{scope}", locale)


@attrs.define(auto_exc=True, eq=False)
class NotFound(StorageError):
    key: ClassVar[str] = "storage.not_found"
    scope: Scope
    name: str

    def params(self, locale: str | None) -> dict[str, object]:
        """The name and where (guild or user), for the message."""
        return {"name": self.name, "where": _where(self.scope, locale)}

    def __str__(self) -> str:
        return f"no {self.scope} playlist named {self.name!r}"


@attrs.define(auto_exc=True, eq=False)
class AlreadyExists(StorageError):
    key: ClassVar[str] = "storage.already_exists"
    scope: Scope
    name: str
    existing: str  # the display name already stored (may differ in case)

    def params(self, locale: str | None) -> dict[str, object]:
        """The name, the existing one and where (guild or user), for the message."""
        return {"name": self.name, "existing": self.existing, "where": _where(self.scope, locale)}

    def __str__(self) -> str:
        return f"a {self.scope} playlist named {self.existing!r} already exists ({self.name!r})"


@attrs.define(auto_exc=True, eq=False)
class LimitReached(StorageError):
    key: ClassVar[str] = "storage.limit_reached"
    what: Literal["playlists", "tracks"]
    limit: int
    attempted: int

    @property
    def key_for(self) -> str:
        return f"storage.limit_reached.{self.what}"

    def user_message(self, locale: str | None = None) -> str:
        """The message for a member: which limit and how far over it."""
        return t(self.key_for, locale, limit=self.limit, attempted=self.attempted)

    def __str__(self) -> str:
        return f"limit of {self.limit} {self.what} reached (would be {self.attempted})"


NameProblem = Literal["empty", "too_long", "bad_chars", "reserved", "leading_dot"]


@attrs.define(auto_exc=True, eq=False)
class InvalidName(StorageError):
    key: ClassVar[str] = "storage.invalid_name"
    name: str
    problem: NameProblem
    max_length: int = 64

    def user_message(self, locale: str | None = None) -> str:
        """The message for a member: what is wrong with the name."""
        return t(f"storage.invalid_name.{self.problem}", locale, max=self.max_length)

    def __str__(self) -> str:
        return f"invalid playlist name {self.name[:80]!r}: {self.problem}"


@attrs.define(auto_exc=True, eq=False)
class InvalidPosition(StorageError):
    key: ClassVar[str] = "storage.invalid_position"
    position: int
    length: int

    def params(self, locale: str | None) -> dict[str, object]:
        """The position asked for and the playlist's length, for the message."""
        return {"position": self.position, "length": self.length}

    def __str__(self) -> str:
        return f"no track at position {self.position} (playlist has {self.length})"


@attrs.define(auto_exc=True, eq=False)
class DiskFull(StorageError):
    key: ClassVar[str] = "storage.disk_full"
    path: Path

    def __str__(self) -> str:
        return f"disk full while writing {self.path}; the previous file is unchanged"


@attrs.define(auto_exc=True, eq=False)
class PermissionDenied(StorageError):
    key: ClassVar[str] = "storage.permission_denied"
    path: Path
    operation: str

    def __str__(self) -> str:
        return f"permission denied ({self.operation}) for {self.path}; the file is unchanged"


@attrs.define(auto_exc=True, eq=False)
class CorruptFile(StorageError):
    """A file (and its backup) could not be read.  It is kept as it is and never overwritten."""

    key: ClassVar[str] = "storage.corrupt_file"
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"unreadable file {self.path}: {self.reason} (kept; writes to it are refused)"


@attrs.define(auto_exc=True, eq=False)
class StorageIOError(StorageError):
    """Any other operating-system error; the previous file is unchanged."""

    key: ClassVar[str] = "storage.io_error"
    path: Path
    operation: str
    code: int  # errno
    strerror: str

    def __str__(self) -> str:
        return f"{self.operation} {self.path} failed: [errno {self.code}] {self.strerror}"


@attrs.define(auto_exc=True, eq=False)
class CorruptRow(CorruptFile):
    """A database row that could not be decoded.  Reported; the row is kept (moved to the
    ``quarantine`` table when it has to make room)."""

    where: str = ""  # database#table/key (``path`` is the same as a path, for old callers)

    @classmethod
    def at(cls, where: str, reason: str) -> CorruptRow:
        """A corrupt database row located by ``where`` (a ``scheme://path``-like locator)."""
        return cls(Path(where.replace("://", "/")), reason, where)

    def __str__(self) -> str:
        return f"unreadable row {self.where or self.path}: {self.reason} (kept)"


@attrs.define(auto_exc=True, eq=False)
class DatabaseUnavailable(StorageError):
    """The database could not be reached (or stopped answering).  ``maybe_saved`` is True when
    the connection was lost while committing, so the outcome of that one write is unknown."""

    key: ClassVar[str] = "storage.db_unavailable"
    where: str  # the database, without credentials
    detail: str
    maybe_saved: bool = False

    def user_message(self, locale: str | None = None) -> str:
        """The message for a member, saying whether the change may have been saved."""
        return t(self.key + (".maybe" if self.maybe_saved else ""), locale)

    def __str__(self) -> str:
        state = "outcome of the last write unknown" if self.maybe_saved else "nothing was changed"
        return f"database {self.where} unavailable: {self.detail} ({state})"


@attrs.define(auto_exc=True, eq=False)
class Conflict(StorageError):
    """A row changed in another process since this one read it: the write is refused, so no
    process overwrites a change it has not seen (a lost update)."""

    key: ClassVar[str] = "storage.conflict"
    what: str
    expected: int
    found: int

    def __str__(self) -> str:
        return (
            f"{self.what} changed elsewhere (revision {self.found}, expected {self.expected});"
            " the write was refused"
        )


@attrs.define(auto_exc=True, eq=False)
class SchemaTooNew(StorageError):
    """The database was migrated by a newer release than this one."""

    key: ClassVar[str] = "storage.io_error"
    where: str
    found: int
    known: int

    def __str__(self) -> str:
        return (
            f"the database {self.where} has schema version {self.found}, but this release knows "
            f"versions up to {self.known}: it was written by a newer musicbot. Run that release "
            "(or restore a backup taken before the upgrade); nothing was changed."
        )


_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def from_os_error(exc: OSError, path: Path, operation: str) -> StorageError:
    """Map an OSError to the typed error a user can be told about."""
    if exc.errno in _DISK_FULL:
        return DiskFull(path)
    if exc.errno in _DENIED:
        return PermissionDenied(path, operation)
    return StorageIOError(path, operation, exc.errno or 0, exc.strerror or str(exc))


register(
    en={
        "storage.scope.guild": "in this server",
        "storage.scope.user": "in your personal playlists",
        "storage.not_found": "There is no playlist named “{name}” {where}.",
        "storage.already_exists": "A playlist named “{existing}” already exists {where}.",
        "storage.limit_reached.playlists": (
            "You can keep at most {limit} playlists here. Delete one first."
        ),
        "storage.limit_reached.tracks": (
            "A playlist can hold at most {limit} tracks (this would make {attempted}). "
            "Nothing was changed."
        ),
        "storage.invalid_name.empty": "Please give the playlist a name.",
        "storage.invalid_name.too_long": "Playlist names can be at most {max} characters long.",
        "storage.invalid_name.bad_chars": (
            "Playlist names may use letters, digits, spaces and - _ . , ' ! & ( ) + # @ only."
        ),
        "storage.invalid_name.reserved": "That name is reserved; please choose another.",
        "storage.invalid_name.leading_dot": "Playlist names cannot start with a dot.",
        "storage.invalid_position": "There is no track #{position}; the playlist has {length}.",
        "storage.disk_full": (
            "The bot's disk is full, so nothing was saved. Your previous data is unchanged; "
            "please tell the bot owner."
        ),
        "storage.permission_denied": (
            "The bot is not allowed to read or write its data files, so nothing was changed. "
            "Your previous data is safe; please tell the bot owner."
        ),
        "storage.corrupt_file": (
            "This saved data is damaged and could not be read. It has been kept untouched for "
            "the bot owner to recover; changes to it are refused."
        ),
        "storage.io_error": (
            "Saving failed because of a storage error. Your previous data is unchanged."
        ),
        "storage.db_unavailable": (
            "The bot cannot reach its database right now, so nothing was changed. Your previous "
            "data is safe; please try again in a moment."
        ),
        "storage.db_unavailable.maybe": (
            "The bot lost its database connection while saving, so this change may or may not "
            "have been kept. Please check and try again in a moment."
        ),
        "storage.conflict": (
            "This was changed by another instance of the bot a moment ago, so your change was "
            "not saved (it would have undone theirs). Please look and try again."
        ),
    },
    vi={
        "storage.scope.guild": "trong máy chủ này",
        "storage.scope.user": "trong danh sách phát cá nhân của bạn",
        "storage.not_found": "Không có danh sách phát nào tên “{name}” {where}.",
        "storage.already_exists": "Đã có một danh sách phát tên “{existing}” {where}.",
        "storage.limit_reached.playlists": (
            "Bạn chỉ có thể giữ tối đa {limit} danh sách phát ở đây. Hãy xóa bớt một cái trước."
        ),
        "storage.limit_reached.tracks": (
            "Một danh sách phát chỉ chứa được tối đa {limit} bài (thao tác này sẽ thành "
            "{attempted}). Không có gì bị thay đổi."
        ),
        "storage.invalid_name.empty": "Hãy đặt tên cho danh sách phát.",
        "storage.invalid_name.too_long": "Tên danh sách phát dài tối đa {max} ký tự.",
        "storage.invalid_name.bad_chars": (
            "Tên danh sách phát chỉ được dùng chữ cái, chữ số, dấu cách và - _ . , ' ! & ( ) + # @."
        ),
        "storage.invalid_name.reserved": "Tên này đã được dành riêng; hãy chọn tên khác.",
        "storage.invalid_name.leading_dot": "Tên danh sách phát không được bắt đầu bằng dấu chấm.",
        "storage.invalid_position": "Không có bài số {position}; danh sách phát có {length} bài.",
        "storage.disk_full": (
            "Ổ đĩa của bot đã đầy nên không có gì được lưu. Dữ liệu cũ của bạn vẫn nguyên vẹn; "
            "hãy báo cho chủ bot."
        ),
        "storage.permission_denied": (
            "Bot không có quyền đọc hoặc ghi tệp dữ liệu nên không có gì bị thay đổi. Dữ liệu cũ "
            "của bạn vẫn an toàn; hãy báo cho chủ bot."
        ),
        "storage.corrupt_file": (
            "Dữ liệu đã lưu này bị hỏng và không đọc được. Nó được giữ nguyên để chủ bot khôi "
            "phục; mọi thay đổi lên nó đều bị từ chối."
        ),
        "storage.io_error": "Lưu thất bại do lỗi lưu trữ. Dữ liệu cũ của bạn vẫn nguyên vẹn.",
        "storage.db_unavailable": (
            "Bot hiện không kết nối được cơ sở dữ liệu nên không có gì bị thay đổi. Dữ liệu cũ "
            "của bạn vẫn an toàn; hãy thử lại sau giây lát."
        ),
        "storage.db_unavailable.maybe": (
            "Bot mất kết nối cơ sở dữ liệu trong lúc lưu nên thay đổi này có thể đã được giữ "
            "hoặc chưa. Hãy kiểm tra và thử lại sau giây lát."
        ),
        "storage.conflict": (
            "Mục này vừa được một phiên bản khác của bot thay đổi nên thay đổi của bạn chưa được "
            "lưu (nó sẽ xoá mất thay đổi kia). Hãy xem lại và thử lại."
        ),
    },
)
