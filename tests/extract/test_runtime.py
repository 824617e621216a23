"""The JavaScript runtime and the challenge solver, as yt-dlp sees them; yt-dlp's age."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from musicbot import config
from musicbot.errors import ConfigError
from musicbot.extract.options import Mode, build_options
from musicbot.extract.runtime import STALE_DAYS, freshness, js_runtimes, release_date

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter whose PATH does not contain the venv: the bot's own options,
# then yt-dlp's own report (its verbose header) and the solver check the bot makes.
PROBE = """
import json, sys
import yt_dlp
from musicbot import config
from musicbot.extract.options import Mode, build_options
from musicbot.extract.runtime import solver_report
opts = build_options(config.load(None)[0].extractor, mode=Mode.URL, playlist_cap=1)
lines = []
class Log:
    def debug(self, m): lines.append(m)
    info = warning = error = debug
with yt_dlp.YoutubeDL({**opts, "verbose": True, "logger": Log()}) as ydl:
    ydl.print_debug_header()
r = solver_report(opts)
print(json.dumps({"header": lines, "runtime": r.runtime, "supported": r.runtime_supported,
                  "scripts": r.scripts, "ok": r.ok}))
"""


def test_ytdlp_with_the_bots_options_sees_deno_and_the_solver_without_path() -> None:
    venv_bin = str(Path(sys.executable).parent)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT)}
    assert all(venv_bin != p for p in env["PATH"].split(":"))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd="/", capture_output=True, timeout=120
    )
    assert out.returncode == 0, out.stderr.decode()
    report = json.loads(out.stdout)
    runtimes = next(line for line in report["header"] if "JS runtimes:" in line)
    libraries = next(line for line in report["header"] if "Optional libraries:" in line)
    assert "deno-" in runtimes and "unsupported" not in runtimes, runtimes
    assert "yt_dlp_ejs-" in libraries, libraries
    assert report["runtime"].startswith("deno ") and report["supported"]
    assert report["scripts"].startswith("yt-dlp-ejs ") and report["ok"]


def test_js_runtime_setting() -> None:
    deno = js_runtimes("deno")["deno"]["path"]
    assert Path(deno).name == "deno" and os.access(deno, os.X_OK)
    assert Path(deno).parent == Path(sys.executable).parent  # the environment's own binary
    assert js_runtimes("node") == {"node": {}}
    assert js_runtimes("/opt/node-22/bin/node") == {"node": {"path": "/opt/node-22/bin/node"}}
    assert js_runtimes("/usr/local/bin/qjs") == {"quickjs": {"path": "/usr/local/bin/qjs"}}
    cfg = config.build({"extractor": {"js_runtime": "bun"}}, environ={}).extractor
    assert build_options(cfg, mode=Mode.URL, playlist_cap=1)["js_runtimes"] == {"bun": {}}
    for bad in ("perl", "/usr/bin/python3"):
        with pytest.raises(ConfigError) as info:
            config.build({"extractor": {"js_runtime": bad}}, environ={})
        assert "extractor.js_runtime" in str(info.value)


def test_a_runtime_yt_dlp_cannot_find_is_reported() -> None:
    from musicbot.extract.runtime import solver_report

    report = solver_report({"js_runtimes": js_runtimes("/nonexistent/deno")})
    assert not report.ok and report.runtime is None
    assert "no JavaScript runtime" in report.problem


def test_freshness_from_the_version() -> None:
    today = datetime.date(2026, 12, 2)
    old = freshness(today, "2026.09.01")
    assert (old.age_days, old.stale) == (92, True)
    assert "92 days old" in old.describe()
    new = freshness(today, "2026.11.30.123456")  # a nightly build
    assert (new.age_days, new.stale) == (2, False)
    assert freshness(today, "unknown").age_days is None and not freshness(today, "x").stale
    assert release_date("2026.13.40") is None
    assert STALE_DAYS == 60
    installed = freshness()
    assert installed.released is not None and installed.age_days is not None
