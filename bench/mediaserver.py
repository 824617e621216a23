"""A media server for the bench, run as its own process (it plays the internet: its CPU is not
the bot's).  Serves files of one directory over HTTP/1.1 with byte ranges, on 127.0.0.1, and
prints its port.  ``python -m bench.mediaserver DIR``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import trio

_RANGE = re.compile(rb"\r\nrange: bytes=(\d+)-(\d*)", re.IGNORECASE)
_LINE = re.compile(rb"GET (/[^ ?]*)\S* HTTP/1\.[01]")


async def handle(stream: trio.SocketStream, files: dict[bytes, bytes]) -> None:
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            m = _LINE.match(head)
            body = files.get(m.group(1)) if m else None
            if body is None:
                await stream.send_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            r = _RANGE.search(head)
            size = len(body)
            if r:
                start = int(r.group(1))
                end = min(size - 1, int(r.group(2))) if r.group(2) else size - 1
                if start >= size:
                    await stream.send_all(
                        b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n"
                    )
                    continue
                status = b"206 Partial Content"
                extra = b"Content-Range: bytes %d-%d/%d\r\n" % (start, end, size)
            else:
                start, end, status, extra = 0, size - 1, b"200 OK", b""
            await stream.send_all(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Length: %d\r\n" % (end - start + 1)
                + extra
                + b"Content-Type: application/octet-stream\r\n\r\n"
            )
            view = memoryview(body)[start : end + 1]
            for i in range(0, len(view), 65536):
                await stream.send_all(view[i : i + 65536])
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        return


async def main(directory: Path) -> None:
    files = {b"/" + p.name.encode(): p.read_bytes() for p in directory.iterdir() if p.is_file()}
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1", backlog=4096)
    print(listeners[0].socket.getsockname()[1], flush=True)

    async def handler(stream: trio.SocketStream) -> None:
        await handle(stream, files)

    await trio.serve_listeners(handler, listeners)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]))
