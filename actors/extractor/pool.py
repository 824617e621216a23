"""A pool of extraction worker processes (:mod:`musicbot.extract.worker`).

Theory.  yt-dlp is CPU-heavy Python (it parses YouTube's player response, runs its regexes,
and waits on a JavaScript runtime); in a thread of the audio process it holds the GIL for
milliseconds at a time and every guild's 20 ms pacing stutters.  So it runs in child processes,
at most ``[extractor] workers`` at once (by default one less than the CPUs: more workers than
free CPUs finish no sooner and only take the clock's), each doing one job at a time, at nice
``WORKER_NICE`` so that under contention the bot runs first.

* One worker is started with the actor (:meth:`Pool.prewarm`), more on demand; each is kept
  while it behaves, and an idle one is reused.
* A job that is cancelled (the flight's ``[extractor] timeout``, the actor stopping) kills its
  worker at once (SIGKILL; the worker's state is unknown): a hung yt-dlp costs one process,
  never a slot of the pool.  A worker that dies mid-job (EOF on its stdout) answers
  ``Reason.WORKER``.  Either way the next job starts a fresh worker: killed workers are
  replaced, never repaired.
* Only plain JSON crosses, one line each way; a reply larger than ``MAX_LINE`` kills the
  worker (its output is not trusted to be bounded).
* The environment of a worker is minimal: no token, no secrets, only what Python and yt-dlp
  need (see :func:`worker_env`).  ``PYTHONPATH`` carries the parent's ``sys.path`` so that
  extractors and yt-dlp plugins importable here are importable there.

All state is owned by the extractor actor's tasks (one trio thread); the pool is opened with
:func:`open_pool` and every process is killed and reaped when it closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import structlog
import trio

from musicbot.extract.errors import ExtractionError, Reason
from musicbot.procenv import lower_priority

log = structlog.get_logger(__name__)

MAX_LINE: Final = 16 * 1024 * 1024  # bytes; a flat 200-entry playlist is ~100 KB
_READ: Final = 65536
WORKER_NICE: Final = 10  # yt-dlp runs this much nicer than the bot, like ffmpeg
# Variables a worker may inherit: locale, home (yt-dlp's config/cache lookups), TLS settings,
# and the proxy variables an operator may rely on.
_PASS_ENV: Final = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def worker_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: the few variables it needs, never a token."""
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in _PASS_ENV if k in environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_argv() -> list[str]:
    return [sys.executable, "-m", "musicbot.extract.worker"]


class WorkerGone(Exception):
    """The worker closed its stdout (it exited or crashed)."""


@attrs.define(eq=False)
class Worker:
    proc: trio.Process
    buffer: bytearray = attrs.field(factory=bytearray)
    jobs: int = 0
    yt_dlp: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        line = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        await self.proc.stdin.send_all(line)

    async def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                message = json.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("a reply line is not an object")
                return message
            if len(self.buffer) > MAX_LINE:
                raise ValueError(f"a reply line is longer than {MAX_LINE} bytes")
            chunk = await self.proc.stdout.receive_some(_READ)
            if not chunk:
                raise WorkerGone
            self.buffer += chunk


@attrs.define(eq=False)
class Pool:
    size: int
    argv: list[str] = attrs.field(factory=worker_argv)
    env: dict[str, str] = attrs.field(factory=worker_env)
    limiter: trio.CapacityLimiter = attrs.field(init=False)
    idle: list[Worker] = attrs.field(factory=list)
    live: dict[int, Worker] = attrs.field(factory=dict)  # pid → worker
    started: int = 0
    killed: int = 0  # hung, cancelled or misbehaving workers we killed
    died: int = 0  # workers that exited on their own mid-job
    _next_id: int = 0

    def __attrs_post_init__(self) -> None:
        self.limiter = trio.CapacityLimiter(self.size)

    def pids(self) -> list[int]:
        return sorted(self.live)

    async def run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Run one job in a worker and return its reply (``ok`` or ``error``).

        Raises :class:`ExtractionError` with ``Reason.WORKER`` when the worker dies or talks
        nonsense; cancellation kills the worker and propagates."""
        async with self.limiter:
            worker = self.idle.pop() if self.idle else await self._start()
            self._next_id += 1
            job_id = self._next_id
            healthy = False
            try:
                await worker.send({**job, "id": job_id})
                reply = await worker.receive()
                if reply.get("id") != job_id:
                    raise ValueError(f"reply to job {reply.get('id')!r}, expected {job_id}")
                healthy = True
                worker.jobs += 1
                return reply
            except (WorkerGone, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                code = await self._reap(worker)
                self.died += 1
                log.warning("extract_worker_died", pid=worker.pid, returncode=code)
                raise ExtractionError(
                    Reason.WORKER, f"worker {worker.pid} exited ({code}) mid-job"
                ) from exc
            except ValueError as exc:
                await self._kill(worker, why="protocol")
                raise ExtractionError(Reason.WORKER, f"worker {worker.pid}: {exc}") from exc
            finally:
                if healthy:
                    self.idle.append(worker)
                elif worker.pid in self.live:
                    # Cancelled (timeout, shutdown) or failed in between: the worker may be
                    # busy for good, so it goes.
                    await self._kill(worker, why="cancelled")

    async def prewarm(self) -> None:
        """Start one worker ahead of the first job (it pays yt-dlp's start-up costs, about two
        seconds of CPU, before a member waits for it).  A failure here is only logged: the
        first job will try again."""
        if self.live or self.size < 1:
            return
        async with self.limiter:
            try:
                worker = await self._start()
            except (OSError, ValueError, WorkerGone) as exc:
                log.warning("extract_worker_prewarm_failed", error=repr(exc))
                return
            self.idle.append(worker)

    async def _start(self) -> Worker:
        proc = await trio.lowlevel.open_process(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env=self.env,
            start_new_session=True,  # a terminal's Ctrl-C goes to the bot, not its workers
        )
        # Extraction may be late; the audio clock must not be.  Under CPU contention the
        # worker yields to the bot (as ffmpeg does), not the other way round.
        lower_priority(proc.pid, WORKER_NICE)
        worker = Worker(proc)
        self.live[proc.pid] = worker
        self.started += 1
        try:
            hello = await worker.receive()
        except BaseException:
            await self._kill(worker, why="start")
            raise
        info = hello.get("hello")
        worker.yt_dlp = str(info.get("yt_dlp", "")) if isinstance(info, dict) else ""
        log.debug("extract_worker_started", pid=proc.pid, yt_dlp=worker.yt_dlp)
        return worker

    async def _kill(self, worker: Worker, *, why: str) -> None:
        with trio.CancelScope(shield=True):
            if worker.proc.returncode is None:
                worker.proc.kill()
                self.killed += 1
                log.warning("extract_worker_killed", pid=worker.pid, why=why)
            await self._reap(worker)

    async def _reap(self, worker: Worker) -> int | None:
        with trio.CancelScope(shield=True):
            self.live.pop(worker.pid, None)
            if worker in self.idle:
                self.idle.remove(worker)
            for stream in (worker.proc.stdin, worker.proc.stdout):
                if stream is not None:
                    await stream.aclose()
            with trio.move_on_after(5):
                await worker.proc.wait()
            if worker.proc.returncode is None:
                worker.proc.kill()
                await worker.proc.wait()
        return worker.proc.returncode

    async def aclose(self) -> None:
        for worker in list(self.live.values()):
            with trio.CancelScope(shield=True):
                if worker.proc.returncode is None:
                    worker.proc.kill()
                await self._reap(worker)


@asynccontextmanager
async def open_pool(size: int, **kw: Any) -> AsyncIterator[Pool]:
    """A pool of up to ``size`` workers; every worker is killed when the block ends."""
    pool = Pool(size, **kw)
    try:
        yield pool
    finally:
        await pool.aclose()
