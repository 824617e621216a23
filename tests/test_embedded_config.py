"""`make run` without a token: the demo's config points search, autoplay and lyrics at the media
server (offline), unless the operator chose providers of their own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from musicbot import config
from musicbot.embedded import embedded_config

SEARCH = "http://127.0.0.1:8471/search?q={query}"
RELATED = "http://127.0.0.1:8471/related?url={url}"


def _emu() -> Any:
    return SimpleNamespace(
        api_base="http://127.0.0.1:1/api/v10",
        gateway_url="ws://127.0.0.1:1",
        world=SimpleNamespace(token="demo-token"),
        ca_file="",
    )


def test_the_demo_wires_the_media_servers_search_and_related_tracks() -> None:
    cfg = embedded_config(config.build({}, environ={}), _emu(), SEARCH, RELATED)
    assert cfg.extractor.search_provider == SEARCH
    assert cfg.extractor.related_provider == RELATED
    assert cfg.extractor.allow_private_addresses


def test_the_operators_own_providers_are_kept() -> None:
    own = {"search_provider": "scsearch", "related_provider": "https://r.example/?u={url}"}
    cfg = embedded_config(config.build({"extractor": own}, environ={}), _emu(), SEARCH, RELATED)
    assert cfg.extractor.search_provider == "scsearch"
    assert cfg.extractor.related_provider == "https://r.example/?u={url}"


def test_the_demo_asks_the_media_servers_lyrics_unless_the_operator_chose_a_host() -> None:
    local = "http://127.0.0.1:8471/api"
    cfg = embedded_config(config.build({}, environ={}), _emu(), SEARCH, RELATED, local)
    assert cfg.lyrics.api_base == local
    own = config.build({"lyrics": {"api_base": "https://lyrics.example/api"}}, environ={})
    assert embedded_config(own, _emu(), SEARCH, RELATED, local).lyrics.api_base == (
        "https://lyrics.example/api"
    )
