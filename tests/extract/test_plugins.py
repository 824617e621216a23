"""yt-dlp plugins installed in the environment load in the worker processes, and
``[extractor] extractor_args`` reach them (as they reach bgutil-ytdlp-pot-provider)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from actors import extractor
from actors.extractor.messages import SingleResult
from musicbot.emulator.media import MediaServer
from tests.actors.conftest import local_config

TIMEOUT = 120

PLUGIN = '''
from yt_dlp.extractor.common import InfoExtractor


class MusicbotEchoIE(InfoExtractor):
    """A plugin extractor: answers /echo links with what its extractor_args say."""

    _VALID_URL = r"https?://127\\.0\\.0\\.1:\\d+/echo\\b"

    def _real_extract(self, url):
        greeting = self._configuration_arg("greeting", ["none"])[0]
        return {
            "id": "echo",
            "title": f"plugin says {greeting}",
            "url": url.replace("/echo", "/media/a440.webm"),
            "ext": "webm",
            "acodec": "opus",
            "duration": 3.0,
        }
'''


async def test_an_installed_plugin_loads_and_gets_its_extractor_args(
    media: MediaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "yt_dlp_plugins" / "extractor"
    package.mkdir(parents=True)
    (package / "musicbot_echo.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # as if pip-installed into the venv
    cfg = local_config(extractor={"extractor_args": {"musicbotecho": {"greeting": ["xin chào"]}}})
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=cfg)
            result = await x.extract(media.url("/echo"))
            nursery.cancel_scope.cancel()
    assert isinstance(result, SingleResult)
    assert result.track.title == "plugin says xin chào"
    assert result.track.stream_url == media.media_url("a440")


def test_the_egress_guard_lets_plugins_reach_the_operators_own_provider() -> None:
    """A PO token provider on 127.0.0.1:4416 named in extractor_args is reachable through the
    guard; the same address on another port, and every other private one, stay refused."""
    import ipaddress

    from musicbot import config
    from musicbot.egress import default_policy

    cfg = config.build(
        {
            "extractor": {
                "extractor_args": {
                    "youtubepot-bgutilhttp": {"base_url": ["http://127.0.0.1:4416"]},
                    "other": {"base_url": ["http://provider.internal:80"]},  # names: not trusted
                }
            }
        },
        environ={},
    ).extractor
    policy = default_policy(cfg)
    loopback = ipaddress.ip_address("127.0.0.1")
    assert policy(loopback, 4416) is None
    assert policy(loopback, 4417) is not None
    assert policy(ipaddress.ip_address("10.0.0.5"), 80) is not None
    assert policy(ipaddress.ip_address("93.184.215.14"), 443) is None
