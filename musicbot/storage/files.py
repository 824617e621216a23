"""Crash-safe JSON files (blocking; call through :class:`musicbot.storage.io.FileIO`).

Theory
------
For a target ``name.json`` the folder holds at most:

* ``name.json``               the current version;
* ``name.json.bak``           the previous version (a hard link to the old inode, or a copy);
* ``.name.json.tmp-<hex>``    a write in progress (or left by a crash; ignored, then swept);
* ``name.json.corrupt-<ts>``  an unreadable file moved aside, kept for the operator.

**Write** (:func:`write_document`): (1) settle the target first (see *read*): if the current
file cannot be read and no backup can replace it, the write is refused with ``CorruptFile`` and
nothing is touched, so unreadable data is never overwritten; (2) encode the value (a bug raises
before any file is touched); (3) write a fresh temp file in the same folder with ``O_EXCL``,
``fsync`` it; (4) make ``name.json.bak`` point at the current version (hard link swapped in with
``os.replace``; a copy where links are not supported); (5) ``os.replace`` the temp over the target
(atomic on POSIX and Windows); (6) ``fsync`` the folder so the rename itself is durable.  A
failure or kill at any step leaves the old ``name.json`` complete: before (5) it was never
touched, and (5) is atomic.  Failures remove the temp file and raise a typed error
(``DiskFull``, ``PermissionDenied``, ``StorageIOError``).

**Read** (:func:`read_document`): decode ``name.json`` (JSON + schema + cattrs).  If it is
unreadable, the problem is logged with its path and the backup is tried.  If the backup is good,
the unreadable file is *moved aside* (a rename, which needs no free space) to
``name.json.corrupt-<ts>`` and the backup is copied back into place, so the bot continues with
the previous version and the damaged bytes stay on disk for the operator.  If the backup is
missing or also bad, ``CorruptFile`` is raised naming the path, and both files stay exactly as
they are.  ``name.json`` missing while a good backup exists (a restore that was interrupted) is
restored the same way.

Only one task ever writes a given file (see ``musicbot.storage`` ownership notes), so there are
no locks here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Generic, TypeVar

import attrs
import structlog

from musicbot.storage.codec import Codec, DecodeProblem
from musicbot.storage.errors import CorruptFile, StorageError, from_os_error

log = structlog.get_logger(__name__)

T = TypeVar("T")

BAK_SUFFIX: Final = ".bak"
TMP_MARK: Final = ".tmp-"
CORRUPT_MARK: Final = ".corrupt-"
# Refuse to read anything bigger: a playlist of 500 tracks is ~150 KB.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
# Errors meaning "this file system cannot hard-link": fall back to copying.
_NO_LINK: Final = frozenset(
    {errno.EPERM, errno.EXDEV, errno.EMLINK, getattr(errno, "ENOTSUP", 95), errno.ENOSYS}
)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BAK_SUFFIX)


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}{TMP_MARK}"


def _new_tmp(path: Path) -> Path:
    return path.with_name(_tmp_prefix(path) + secrets.token_hex(6))


def _os_errors(path: Path, operation: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def wrap() -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise from_os_error(exc, path, operation) from exc

    return wrap()


def fsync_dir(directory: Path) -> None:
    """Make renames/creations in ``directory`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):  # Windows cannot open folders
        return
    except FileNotFoundError:  # nothing was ever created there: nothing to make durable
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents, fsyncing each parent that gained an entry."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    with _os_errors(directory, "create folder"):
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):
                d.mkdir()
            fsync_dir(d.parent)


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None if it does not exist.  OS errors are raised typed."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise from_os_error(exc, path, "read") from exc
    return data


@attrs.frozen
class _Decoded(Generic[T]):
    """value None + problem None means the file does not exist."""

    value: T | None
    problem: str | None = None
    raw: bytes | None = None


def _decode(path: Path, codec: Codec[T]) -> _Decoded[T]:
    raw = _read_bytes(path)
    if raw is None:
        return _Decoded(None)
    if len(raw) > MAX_FILE_BYTES:
        return _Decoded(None, f"larger than {MAX_FILE_BYTES} bytes", raw)
    try:
        return _Decoded(codec.decode(raw), None, raw)
    except DecodeProblem as exc:
        return _Decoded(None, str(exc), raw)


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}{CORRUPT_MARK}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_MARK}{stamp}-{n}")
    with _os_errors(path, "move aside"):
        os.replace(path, target)
        fsync_dir(path.parent)
    return target


def _write_tmp(path: Path, data: bytes) -> Path:
    """A new, fsynced temp file next to ``path`` holding ``data``; removed again on failure."""
    tmp = _new_tmp(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _sweep_tmp(path: Path) -> None:
    """Remove temp files a killed write of *this* target left behind (same owner, so safe)."""
    prefix = _tmp_prefix(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    log.info("storage_temp_removed", path=entry.path)


def _rotate_backup(path: Path) -> None:
    """Point ``name.json.bak`` at the current ``name.json`` without ever leaving it missing."""
    bak = backup_path(path)
    link_tmp = path.with_name(f".{path.name}.bak-link")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link_tmp)
    try:
        os.link(path, link_tmp)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        with open(path, "rb") as f:
            copy = _write_tmp(path, f.read())
        os.replace(copy, bak)
        return
    os.replace(link_tmp, bak)
    # rename() of two links to the same inode (bak already was this file, after a crash
    # between backup and rename) succeeds without doing anything: drop the extra link.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link_tmp)


def _replace(path: Path, data: bytes, *, rotate: bool) -> None:
    """Steps 3-6 of a write: temp, fsync, backup, rename, fsync folder."""
    ensure_dir(path.parent)
    _sweep_tmp(path)
    with _os_errors(path, "write"):
        tmp = _write_tmp(path, data)
        try:
            if rotate:
                _rotate_backup(path)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fsync_dir(path.parent)


def read_document(path: Path, codec: Codec[T]) -> T | None:
    """The decoded document at ``path``; None if there is none.  See the module docstring."""
    first = _decode(path, codec)
    value, problem = first.value, first.problem
    if value is not None:
        return value
    bak = backup_path(path)
    if problem is not None:
        log.warning("storage_file_corrupt", path=str(path), reason=problem)
    second = _decode(bak, codec)
    bak_value, bak_problem, bak_raw = second.value, second.problem, second.raw
    if bak_value is None or bak_raw is None:
        if problem is None:
            if bak_problem is not None:
                # A stray unreadable backup with no file: keep it out of the way, never delete.
                log.warning("storage_file_corrupt", path=str(bak), reason=bak_problem)
                _move_aside(bak)
            return None
        if bak_problem is not None:
            log.warning("storage_backup_corrupt", path=str(bak), reason=bak_problem)
        raise CorruptFile(path, problem)
    aside = _move_aside(path) if problem is not None else None
    try:
        _replace(path, bak_raw, rotate=False)
    except StorageError as exc:
        # The good backup stays; the next read retries the restore.
        log.warning("storage_restore_failed", path=str(path), error=str(exc))
    log.warning(
        "storage_backup_used",
        path=str(path),
        backup=str(bak),
        moved_aside=str(aside) if aside else None,
    )
    return bak_value


def set_aside(path: Path) -> list[Path]:
    """Move an unreadable document and its backup out of the way (renames; bytes kept).

    Returns where they went.  For documents that may be rebuilt from scratch (settings fall
    back to defaults, snapshots are disposable): after this the name is free again.
    """
    moved: list[Path] = []
    for p in (backup_path(path), path):
        if p.exists():
            moved.append(_move_aside(p))
    return moved


def write_document(
    path: Path, value: T, codec: Codec[T], *, replace_unreadable: bool = False
) -> None:
    """Atomically replace the document at ``path`` with ``value`` (see the module docstring).

    An unreadable current document (and no good backup) refuses the write with
    ``CorruptFile``, unless ``replace_unreadable``: then it is moved aside first (kept for the
    operator, reported in the log) and the new value written.
    """
    try:
        current = read_document(path, codec)  # CorruptFile: never overwrite unreadable data
    except CorruptFile as exc:
        if not replace_unreadable:
            raise
        moved = set_aside(path)
        log.warning(
            "storage_corrupt_replaced",
            path=str(path),
            reason=exc.reason,
            moved_aside=[str(m) for m in moved],
        )
        current = None
    data = codec.encode(value)
    _replace(path, data, rotate=current is not None and path.exists())


def delete_document(path: Path, codec: Codec[T]) -> T | None:
    """Remove a document and its backup; returns what was deleted (None if there was none).

    An unreadable document is not destroyed: it (and its backup) is moved aside instead, which
    frees the name while keeping the bytes for the operator.
    """
    bak = backup_path(path)
    try:
        current = read_document(path, codec)
    except CorruptFile:
        for p in (bak, path):
            if p.exists():
                aside = _move_aside(p)
                log.warning("storage_corrupt_deleted", path=str(p), moved_aside=str(aside))
        return None
    if current is None and not path.exists() and not bak.exists():
        return None  # nothing there (perhaps not even the folder): nothing to delete
    with _os_errors(path, "delete"):
        # Backup first: a crash in between leaves the current file, which stays loadable.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(bak)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        fsync_dir(path.parent)
    _sweep_tmp(path)
    return current


def document_names(directory: Path, suffix: str = ".json") -> list[str]:
    """File names of the documents in ``directory`` (including ones only a backup holds)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise from_os_error(exc, directory, "list") from exc
    present = {n for n in names if n.endswith(suffix) and not n.startswith(".")}
    for n in names:
        if n.endswith(suffix + BAK_SUFFIX) and not n.startswith("."):
            present.add(n[: -len(BAK_SUFFIX)])
    return sorted(present)
