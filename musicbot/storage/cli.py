"""``python -m musicbot export`` and ``import``: JSON dumps, to move between engines or machines.

Both are plain blocking commands (no bot is started).  ``export`` works on every engine (with
``url = "files"`` it reads the JSON data dir); ``import`` loads a dump into the configured
database in one transaction, and refuses a database that already holds data unless
``--replace``.  Exit codes: 0 done, 2 refused (bad dump, files engine, non-empty database),
1 the database failed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Final, TextIO

from musicbot.config import Config
from musicbot.storage import transfer
from musicbot.storage.db import connect
from musicbot.storage.errors import StorageError
from musicbot.storage.schema import migrate
from musicbot.storage.store import FILES_URL

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_REFUSED: Final = 2
MAX_DUMP_BYTES: Final = 1024 * 1024 * 1024


def _data_dir(cfg: Config) -> Path:
    return Path(cfg.storage.data_dir).expanduser()


def _write(text: str, output: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def export_command(cfg: Config, output: str, err: TextIO = sys.stderr) -> int:
    root = _data_dir(cfg)
    try:
        if cfg.storage.url.value == FILES_URL:
            dump: dict[str, Any] = transfer.export_data_dir(root)
        else:
            if transfer.has_json_data(root):
                print(
                    f"warning: {root} still holds JSON data that is not in the database yet; "
                    "the bot imports it at its next start",
                    file=err,
                )
            db = connect(cfg.storage.url.value, root)
            try:
                dump = db.run_blocking(
                    lambda tx: (migrate(tx, db.where), transfer.export_rows(tx))[1], write=True
                )
            finally:
                db.close()
    except StorageError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED
    _write(json.dumps(dump, ensure_ascii=False, indent=1) + "\n", output)
    counts = {k: len(dump[k]) for k in ("playlists", "guild_settings", "sessions")}
    print(f"exported {counts}", file=err)
    return EXIT_OK


def import_command(cfg: Config, source: str, replace: bool, err: TextIO = sys.stderr) -> int:
    if cfg.storage.url.value == FILES_URL:
        print('error: import needs a database ([storage] url is "files")', file=err)
        return EXIT_REFUSED
    try:
        with open(source, "rb") as f:
            raw = f.read(MAX_DUMP_BYTES + 1)
        if len(raw) > MAX_DUMP_BYTES:
            raise ValueError("larger than 1 GiB")
        dump = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the dump {source}: {exc}", file=err)
        return EXIT_REFUSED
    root = _data_dir(cfg)
    try:
        db = connect(cfg.storage.url.value, root)
        try:
            report = db.run_blocking(
                lambda tx: (migrate(tx, db.where), transfer.import_dump(tx, dump, replace=replace))[
                    1
                ]
            )
        finally:
            db.close()
    except transfer.DumpError as exc:
        print(f"error: {exc} (nothing was changed)", file=err)
        return EXIT_REFUSED
    except StorageError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED
    for where, why in report.damaged:
        print(f"damaged (kept in the quarantine table): {where}: {why}", file=err)
    for where, why in report.skipped:
        print(f"skipped: {where}: {why}", file=err)
    print(
        f"imported {report.playlists} playlists, {report.settings} guild settings, "
        f"{report.sessions} sessions",
        file=err,
    )
    return EXIT_OK
