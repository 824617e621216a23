"""A local HTTP server for media with byte ranges, expiring signatures and dropped connections
(what YouTube's media servers do to a long download), for the in-process Opus source."""

from __future__ import annotations

import http.server
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs


@attrs.define
class Behaviour:
    """What the server does; tests change it between requests."""

    signature: str = "1"  # only URLs with ?sig=<this> are served; others get 403
    expire_after: int | None = None  # after serving this many body bytes, sig rotates (403)
    drop_after: int | None = None  # once: close the connection after this many body bytes
    ignore_ranges: bool = False
    served: int = 0
    ranges: list[tuple[int, int | None]] = attrs.field(factory=list)
    paths: list[str] = attrs.field(factory=list)  # the path of every request, in order
    statuses: list[int] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@contextmanager
def range_server(directory: Path, behaviour: Behaviour) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            b = behaviour
            split = urllib.parse.urlsplit(self.path)
            sig = urllib.parse.parse_qs(split.query).get("sig", [""])[0]
            path = directory / split.path.lstrip("/")
            with b.lock:
                b.paths.append(split.path)
            if sig != b.signature:
                self._status(403)
                return
            if not path.is_file():
                self._status(404)
                return
            data = path.read_bytes()
            m = _RANGE.fullmatch(self.headers.get("Range", ""))
            if m is None or b.ignore_ranges:
                start, end, status = 0, len(data) - 1, 200
            else:
                start = int(m.group(1))
                end = min(len(data) - 1, int(m.group(2))) if m.group(2) else len(data) - 1
                if start >= len(data):
                    self._status(416)
                    return
                status = 206
            with b.lock:
                b.ranges.append((start, end))
                b.statuses.append(status)
            body = data[start : end + 1]
            self.send_response(status)
            kind = {".webm": "audio/webm", ".ogg": "audio/ogg", ".mp3": "audio/mpeg"}
            self.send_header("Content-Type", kind.get(path.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.end_headers()
            sent = 0
            step = 4096
            while sent < len(body):
                piece = body[sent : sent + step]
                with b.lock:
                    if b.drop_after is not None and b.served + len(piece) > b.drop_after:
                        b.drop_after = None
                        self.close_connection = True
                        return  # the handler closes the socket: the body is cut short
                    if b.expire_after is not None and b.served + len(piece) > b.expire_after:
                        b.expire_after = None
                        b.signature = str(int(b.signature) + 1)
                        self.close_connection = True
                        return
                    b.served += len(piece)
                try:
                    self.wfile.write(piece)
                except OSError:
                    return
                sent += len(piece)

        def _status(self, code: int) -> None:
            with behaviour.lock:
                behaviour.statuses.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
