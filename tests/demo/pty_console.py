"""``python -m musicbot emulator`` on a pseudo-terminal, as a person at a terminal runs it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

# Cursor moves, colours, erases, mode switches, title strings: what a terminal draws with.
_ESCAPES = re.compile(
    r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()=>][0-9A-B]?"
)


class PtyConsole:
    def __init__(self, process: trio.Process, master: int) -> None:
        self.process = process
        self.master = master
        self.stream = trio.lowlevel.FdStream(os.dup(master))
        self.raw = b""
        self.cursor = 0  # expect() searches from the end of its previous match

    @property
    def text(self) -> str:
        return _ESCAPES.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    async def expect(self, pattern: str) -> re.Match[str]:
        """Wait until ``pattern`` shows up (escape sequences removed) after the last match."""
        while True:
            match = re.compile(pattern).search(self.text, self.cursor)
            if match:
                self.cursor = match.end()
                return match
            try:
                chunk = await self.stream.receive_some(65536)
            except (OSError, trio.BrokenResourceError):  # EIO: the child closed it
                chunk = b""
            if not chunk:
                raise EOFError(f"console ended before {pattern!r}:\n{self.text[-3000:]}")
            self.raw += chunk

    def send(self, keys: str | bytes) -> None:
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    async def drain(self) -> None:
        """Read until the child closes the terminal (it exited)."""
        while True:
            try:
                chunk = await self.stream.receive_some(65536)
            except (OSError, trio.BrokenResourceError):
                return
            if not chunk:
                return
            self.raw += chunk


@asynccontextmanager
async def pty_console(data_dir: Path, *, columns: int = 160) -> AsyncIterator[PtyConsole]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {
        **os.environ,
        "MUSICBOT_STORAGE_DATA_DIR": str(data_dir),
        "MUSICBOT_LOG_LEVEL": "info",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # no cursor-position queries to answer
        "TERM": "xterm",
    }
    env.pop("DISCORD_TOKEN", None)
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "musicbot", "emulator"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    console = PtyConsole(process, master)
    try:
        yield console
    finally:
        print(console.text[-6000:])  # shown by pytest when the test fails
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
                await process.wait()
            await console.stream.aclose()
        os.close(master)
