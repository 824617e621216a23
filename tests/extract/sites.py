"""yt-dlp extractors for tests, importable by the worker processes (module level, no closures).

``FakeTubeIE`` answers ``http://127.0.0.1:<port>/watch?v=<id>`` from a player response the test
serves on the local media server at ``/youtubei/<id>.json`` (``playabilityStatus``,
``streamingData``, and the warnings YouTube's extractor would print), and fails exactly the
way yt-dlp's YouTube extractor does: ``raise_geo_restricted`` for "The uploader has not made
this video available in your country", the sign-in reason with yt-dlp's cookies hint, and
``raise_no_formats`` with YouTube's own reason text.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from yt_dlp.extractor.common import InfoExtractor


class FakeTubeIE(InfoExtractor):  # type: ignore[misc]
    IE_NAME = "faketube"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/watch\?v=(?P<id>[\w-]+)"

    def _real_extract(self, url: str) -> Any:
        video_id = self._match_id(url)
        base = url.split("/watch", 1)[0]
        player = self._download_json(f"{base}/youtubei/{video_id}.json", video_id)
        for warning in player.get("warnings") or ():
            self.report_warning(f"{video_id}: {warning}")
        status = player.get("playabilityStatus") or {}
        if status.get("status") != "OK":
            reason = status.get("reason") or ""
            subreason = status.get("subreason") or ""
            if subreason.startswith("The uploader has not made this video available in your"):
                self.raise_geo_restricted(subreason, ["VN"], metadata_available=True)
            if subreason and subreason != reason:
                reason += f". {subreason}"
            if "sign in" in reason.lower():
                reason = f"{reason.strip().rstrip('.')}. {self._login_hint(method='cookies')}"
            self.raise_no_formats(reason, expected=True)
        formats = [
            {**f, "url": base + f["url"]}
            for f in (player.get("streamingData") or {}).get("formats", [])
        ]
        return {
            "id": video_id,
            "title": player.get("title") or video_id,
            "duration": player.get("lengthSeconds"),
            "formats": formats,
            "webpage_url": url,
        }


class HangIE(InfoExtractor):  # type: ignore[misc]
    """Never answers (as yt-dlp stuck in a slow regex or a dead socket without a timeout)."""

    IE_NAME = "hang"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/hang\b"

    def _real_extract(self, url: str) -> Any:
        while True:
            time.sleep(3600)


class DieIE(InfoExtractor):  # type: ignore[misc]
    """Kills its own process mid-job (as a segfault in a native library would)."""

    IE_NAME = "die"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/die\b"

    def _real_extract(self, url: str) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)


class PidIE(InfoExtractor):  # type: ignore[misc]
    """Answers with the worker's pid (and prints to stdout, which must not break the protocol)."""

    IE_NAME = "pid"
    _VALID_URL = r"https?://127\.0\.0\.1:\d+/pid\b"

    def _real_extract(self, url: str) -> Any:
        print("noise on stdout from an extractor")
        return {
            "id": "pid",
            "title": f"pid {os.getpid()}",
            "url": url.replace("/pid", "/media/a440.webm"),
            "ext": "webm",
            "acodec": "opus",
            "duration": 3.0,
        }
