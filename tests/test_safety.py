"""Input safety: link checks (allow-list, SSRF guard) and search text sanitizing."""

from __future__ import annotations

import unicodedata

import pytest
import trio

from musicbot import config
from musicbot.safety import (
    MAX_QUERY_LENGTH,
    MAX_URL_LENGTH,
    Refusal,
    check_url,
    domain_allowed,
    guard_url,
    ip_literal,
    is_blocked_address,
    looks_like_url,
    sanitize_query,
)

DEFAULT = config.build({}, environ={}).extractor
ANY_DOMAIN = config.build({"extractor": {"allowed_domains": ["*"]}}, environ={}).extractor
PRIVATE_OK = config.build(
    {"extractor": {"allowed_domains": ["*"], "allow_private_addresses": True}}, environ={}
).extractor


def refusal(url: str, cfg: config.ExtractorConfig = DEFAULT) -> str:
    with pytest.raises(Refusal) as info:
        check_url(url, cfg)
    return info.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "ftp://youtube.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://",
        "https://user:pw@youtube.com/watch?v=x",
        "https://youtube.com:99999/",
        "https://youtube.com/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_malformed_or_odd_links_are_refused(url: str) -> None:
    assert refusal(url) in ("safety.bad_url", "safety.too_long")


def test_allow_list_matches_domains_and_subdomains() -> None:
    assert check_url("https://www.youtube.com/watch?v=x", DEFAULT) == "www.youtube.com"
    assert check_url("https://MUSIC.YouTube.com./watch?v=x", DEFAULT) == "music.youtube.com"
    assert check_url("https://youtu.be/abc", DEFAULT) == "youtu.be"
    assert refusal("https://evilyoutube.com/watch") == "safety.domain"
    assert refusal("https://youtube.com.evil.net/watch") == "safety.domain"
    assert check_url("https://example.net/a.mp3", ANY_DOMAIN) == "example.net"
    assert domain_allowed("a.b.example.org", ["example.org"])
    assert not domain_allowed("example.org", ["a.example.org"])


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",
        "0177.0.0.1",  # octal
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
        "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata (link-local)
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[fec0::1]",  # site-local (deprecated, still routed inside some networks)
        "[feff:ffff::1]",  # the top of fec0::/10
        "[::ffff:fec0:1]",  # not site-local but v4-mapped 254.192.0.1: reserved
    ],
)
def test_private_and_special_addresses_are_refused(host: str) -> None:
    assert refusal(f"http://{host}:8080/x", ANY_DOMAIN) == "safety.private"
    assert check_url(f"http://{host}:8080/x", PRIVATE_OK)  # unless explicitly allowed


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]"])
def test_public_addresses_pass(host: str) -> None:
    assert check_url(f"https://{host}/x", ANY_DOMAIN)
    literal = ip_literal(host)
    assert literal is not None and not is_blocked_address(literal)


def test_names_are_not_ip_literals() -> None:
    assert ip_literal("youtube.com") is None
    assert ip_literal("1e100.net") is None


async def test_names_resolving_to_loopback_are_refused() -> None:
    with trio.fail_after(10):
        with pytest.raises(Refusal) as info:
            await guard_url("http://localhost:9/x", ANY_DOMAIN)
        assert await guard_url("http://localhost:9/x", PRIVATE_OK) == "localhost"
    assert info.value.reason == "safety.private"
    assert "resolves to" in info.value.detail


def test_refusals_speak_both_languages() -> None:
    with pytest.raises(Refusal) as info:
        check_url("https://evil.example/x", DEFAULT)
    assert info.value.text("en-US") == "This site is not allowed here (evil.example)."
    assert info.value.text("vi") == "Trang này không được phép dùng ở đây (evil.example)."


def test_vietnamese_survives_sanitizing() -> None:
    text = "Sơn Tùng M-TP – Chúng ta của hiện tại"
    assert sanitize_query(text) == text
    # Decomposed input (combining marks, as some keyboards send it) comes out composed.
    assert sanitize_query(unicodedata.normalize("NFD", text)) == text


def test_sanitizing_strips_controls_and_collapses_whitespace() -> None:
    raw = "\x00 Đen \u202eVâu\t\n  bài  này\x1b[31m chill\u200b "
    assert sanitize_query(raw) == "Đen Vâu bài này[31m chill"


def test_other_scripts_and_emoji_are_kept() -> None:
    for text in ("周杰伦 晴天", "เพลงไทย", "Кино – Группа крови", "🎵 lofi"):
        assert sanitize_query(text) == text


def test_query_length_is_capped() -> None:
    assert len(sanitize_query("ă" * 1000)) == MAX_QUERY_LENGTH


def test_empty_query_is_refused() -> None:
    with pytest.raises(Refusal) as info:
        sanitize_query(" \x00\t\u200b ")
    assert info.value.reason == "safety.empty_query"
    assert info.value.text("vi") == "Hãy nhập nội dung cần tìm."


def test_links_and_words_are_told_apart() -> None:
    assert looks_like_url("https://youtu.be/x")
    assert looks_like_url("  HTTP://example.com ")
    assert looks_like_url("file:///etc/passwd")
    assert not looks_like_url("lofi hip hop")
    assert not looks_like_url("what is http anyway")
