"""Input safety: which links the bot will fetch, and what search text looks like.

Theory.  A music bot fetches whatever URL a stranger types, from inside the operator's network.
Two things can go wrong: the link points somewhere the operator did not mean to allow (a site
outside ``[extractor] allowed_domains``), or it points *into* the operator's network (server-side
request forgery: ``http://127.0.0.1:8080/admin``, ``http://169.254.169.254/`` cloud metadata,
``http://10.0.0.5/``).  The guard therefore checks, in order:

1. the URL itself: ``http``/``https`` only, bounded length, a host, no ``user:pass@``;
2. the host name against the allow-list (a listed domain also allows its subdomains; ``"*"``
   allows every domain);
3. the *addresses*: an IP literal in any spelling the C resolver accepts (``2130706433``,
   ``0x7f.1``, ``[::ffff:127.0.0.1]``) and every address the name resolves to through
   ``trio.socket.getaddrinfo`` must be global unicast — loopback, private, link-local,
   multicast, reserved, unspecified, shared (CGNAT), IPv6 site-local (``fec0::/10``) and v4
   addresses embedded in IPv6
   (mapped, 6to4, Teredo) are refused unless ``[extractor] allow_private_addresses = true``.

The extractor runs step 3 right before each extraction (not only when the link was typed) and
again on the stream URL yt-dlp returns, whose host usually differs from the page's.

At connect time: yt-dlp and ffmpeg resolve names again themselves and follow HTTP redirects, so
a check by name alone could be bypassed (a redirect to 169.254.169.254, or DNS rebinding).  Unless
private addresses are allowed, the bot therefore runs ``musicbot.egress``: a loopback proxy both
tools must use, which resolves every connection's host, refuses blocked addresses and connects
to the address it checked.  When an operator sets ``[extractor] proxy``, that proxy (or a
firewall) is responsible for the same rule instead.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Final

import attrs
import trio

from musicbot.config import ExtractorConfig
from musicbot.errors import MusicBotError
from musicbot.i18n import register, t

MAX_URL_LENGTH: Final = 2048  # longer links are almost always junk or an attack
MAX_QUERY_LENGTH: Final = 200  # search providers truncate long queries anyway
_IPV4_LITERAL = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)
# Format characters that reorder or hide text; ZWJ/ZWNJ (needed by some scripts) stay.
_BIDI_AND_INVISIBLE: Final = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

register(
    {
        "safety.bad_url": "That doesn't look like a web link (only http:// and https:// work).",
        "safety.too_long": "That is too long.",
        "safety.domain": "This site is not allowed here ({host}).",
        "safety.private": "This link points to a private address, so I won't open it.",
        "safety.unresolvable": "I couldn't find the site {host}.",
        "safety.empty_query": "Type something to search for.",
    },
    {
        "safety.bad_url": "Đây không phải là một liên kết web (chỉ hỗ trợ http:// và https://).",
        "safety.too_long": "Nội dung quá dài.",
        "safety.domain": "Trang này không được phép dùng ở đây ({host}).",
        "safety.private": "Liên kết này trỏ tới một địa chỉ nội bộ nên mình sẽ không mở nó.",
        "safety.unresolvable": "Mình không tìm thấy trang {host}.",
        "safety.empty_query": "Hãy nhập nội dung cần tìm.",
    },
)


@attrs.define(auto_exc=True, eq=False)
class Refusal(MusicBotError):
    """The input was refused before anything was fetched.

    ``reason`` is an i18n key (``safety.private`` …); ``host`` fills the text; ``detail`` is for
    logs only.
    """

    reason: str
    host: str = ""
    detail: str = ""

    def text(self, locale: str | None = None) -> str:
        return t(self.reason, locale, host=self.host)

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail or self.host}"


def ip_literal(host: str) -> IpAddress | None:
    """The address ``host`` spells, in any form a resolver accepts, or None for a name."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _IPV4_LITERAL.match(h):
        # inet_aton accepts decimal ("2130706433"), hex ("0x7f000001"), octal and short forms.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def _embedded_v4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    out = [a for a in (addr.ipv4_mapped, addr.sixtofour) if a is not None]
    if addr.teredo is not None:
        out.extend(addr.teredo)
    # IPv4-compatible (deprecated ::a.b.c.d) addresses.
    if int(addr) >> 32 == 0 and int(addr) > 1:
        out.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return out


def is_blocked_address(addr: IpAddress) -> bool:
    """True unless ``addr`` (and any v4 address inside it) is global unicast."""
    if isinstance(addr, ipaddress.IPv6Address) and any(
        is_blocked_address(v4) for v4 in _embedded_v4(addr)
    ):
        return True
    # fec0::/10 (site-local) was deprecated by RFC 3879 but is still routed inside some
    # networks; Python's is_global calls it global, so it is refused by name.
    site_local = isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local
    return (
        site_local
        or addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


def _host_of(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise Refusal("safety.too_long", detail=f"url of {len(url)} chars")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Refusal("safety.bad_url", detail=str(exc)) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise Refusal("safety.bad_url", detail=f"scheme {parts.scheme!r} host {host!r}")
    if parts.username is not None or parts.password is not None:
        raise Refusal("safety.bad_url", host=host, detail="credentials in url")
    host = host.rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise Refusal("safety.bad_url", detail="invalid international name") from None
    return host


def domain_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``host`` is a listed domain or a subdomain of one; ``"*"`` allows all."""
    for domain in allowed:
        d = domain.strip().lower().rstrip(".")
        if d == "*" or host == d or host.endswith("." + d):
            return True
    return False


def check_url(url: str, cfg: ExtractorConfig, *, check_domain: bool = True) -> str:
    """The syntactic checks (steps 1, 2 and IP literals of 3); returns the host.

    ``check_domain=False`` is for stream URLs yt-dlp returns, which live on CDN hosts that the
    allow-list cannot name; their addresses are still checked.
    """
    host = _host_of(url)
    literal = ip_literal(host)
    if literal is not None and not cfg.allow_private_addresses and is_blocked_address(literal):
        raise Refusal("safety.private", host=host, detail=f"literal {literal}")
    if check_domain and not domain_allowed(host, cfg.allowed_domains):
        raise Refusal("safety.domain", host=host, detail="not in allowed_domains")
    return host


async def resolve_addresses(host: str, port: int | None = None) -> list[IpAddress]:
    """Every address ``host`` resolves to right now."""
    try:
        infos = await trio.socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refusal("safety.unresolvable", host=host, detail=str(exc)) from None
    out: list[IpAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone
        if addr not in out:
            out.append(addr)
    return out


async def guard_url(url: str, cfg: ExtractorConfig, *, check_domain: bool = True) -> str:
    """All three steps: syntax, allow-list and the addresses the host resolves to now."""
    host = check_url(url, cfg, check_domain=check_domain)
    if cfg.allow_private_addresses:
        return host
    for addr in await resolve_addresses(host):
        if is_blocked_address(addr):
            raise Refusal("safety.private", host=host, detail=f"resolves to {addr}")
    return host


def looks_like_url(text: str) -> bool:
    """Whether the user meant a link (then it is checked as one) rather than search words."""
    s = text.strip()
    return "://" in s.split(" ", 1)[0] or s.lower().startswith(("http:", "https:"))


def sanitize_query(text: str) -> str:
    """Search words fit to hand to a search provider.

    NFC-normalised (so decomposed Vietnamese diacritics become the usual precomposed letters),
    control and invisible direction-changing characters removed, whitespace collapsed, length
    capped at ``MAX_QUERY_LENGTH``; every script is kept.
    """
    s = unicodedata.normalize("NFC", text)
    kept = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif cat == "Cc" or ch in _BIDI_AND_INVISIBLE or cat in ("Cs", "Co"):
            continue
        else:
            kept.append(ch)
    out = " ".join("".join(kept).split())[:MAX_QUERY_LENGTH].rstrip()
    if not out:
        raise Refusal("safety.empty_query", detail="empty after sanitizing")
    return out
