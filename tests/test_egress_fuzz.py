"""The egress guard's request parser against arbitrary request heads (hypothesis).

The head comes from ffmpeg or yt-dlp, but its URL and headers come from a stranger's link and
the site's extractor.  Whatever it is, the parser refuses it with a status (400) or yields a
request whose upstream head is well formed: one request line, CRLF-terminated headers with no
bare CR or LF (nothing can be smuggled as a second request), ``Connection: close``, and the
host it will connect to is the host it names.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.egress import _BadRequest, _parse

_tokens = st.sampled_from(
    ["GET", "CONNECT", "POST", "http://", "https://", "[::1", "]", ":", "@", "/", "?", "#",
     "host.example", "127.0.0.1", "80", "99999", " ", "\r", "\n", "\r\n", "HTTP/1.1", "Host",
     "Proxy-Authorization", "Connection", "\t", "%0d%0a", "x"]
)  # fmt: skip
_heads = st.lists(_tokens | st.text(max_size=6), max_size=16).map("".join) | st.text(max_size=60)


@settings(max_examples=600, deadline=None)
@given(_heads)
def test_any_head_is_refused_or_rewritten_cleanly(text: str) -> None:
    head = text.encode("latin-1", "replace")
    try:
        request = _parse(head)
    except _BadRequest as bad:
        assert bad.status == 400
        return
    assert request.host and 0 <= request.port <= 65535
    if request.connect:
        assert request.head == b""
        return
    upstream = request.head.decode("latin-1")
    assert upstream.endswith("\r\n\r\n")
    lines = upstream[:-4].split("\r\n")
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert lines[-1] == "Connection: close"
    assert not any(line.lower().startswith("proxy-") for line in lines)


@pytest.mark.parametrize(
    "head",
    [
        b"GET http://[::1/ HTTP/1.1",
        b"CONNECT [::1:443 HTTP/1.1",
        b"GET http://a.example/ HTTP/1.1\r\nX: a\nGET /admin HTTP/1.1",
        b"GET http://a.exa\nmple/ HTTP/1.1",
    ],
)
def test_malformed_targets_and_bare_line_feeds_are_400(head: bytes) -> None:
    with pytest.raises(_BadRequest) as info:
        _parse(head)
    assert info.value.status == 400
