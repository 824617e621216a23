"""``make update-extractor``: upgrade yt-dlp and its challenge solver in this environment.

YouTube changes its player every few weeks and yt-dlp follows within days; the versions pinned
in ``constraints.txt`` are what the tests ran with, not what YouTube accepts next month.  This
upgrades ``yt-dlp[default]`` (which brings ``yt-dlp-ejs``, the solver scripts) and the ``deno``
runtime *outside* the pins, on purpose, then says what changed and whether yt-dlp still sees its
runtime and solver.  Restart the bot afterwards (its worker processes import yt-dlp at start).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Final

PACKAGES: Final = ("yt-dlp", "yt-dlp-ejs", "deno")
REQUIREMENTS: Final = ("yt-dlp[default]", "yt-dlp-ejs", "deno")


def installed(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def changes(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> list[str]:
    """One line per package: ``yt-dlp 2026.10.26 -> 2026.11.30`` or ``deno 2.9.8 (unchanged)``."""
    lines = []
    for name in after:
        old, new = before.get(name), after[name]
        if old == new:
            lines.append(f"{name} {new or 'not installed'} (unchanged)")
        else:
            lines.append(f"{name} {old or 'not installed'} -> {new or 'removed'}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    before = installed()
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", *REQUIREMENTS]
    done = subprocess.run(pip, check=False)
    if done.returncode != 0:
        print(
            "update-extractor: pip failed (see above); check with: python -m musicbot doctor",
            file=sys.stderr,
        )
        return done.returncode
    # A fresh interpreter: this one still has the old versions' metadata cached.
    report = subprocess.run(
        [sys.executable, "-c", _AFTER], capture_output=True, text=True, check=False
    )
    after_lines = report.stdout.splitlines()
    after = dict(line.split("=", 1) for line in after_lines if "=" in line)
    for line in changes(before, {k: (v or None) for k, v in after.items()}):
        print(line)
    print(
        report.stderr.strip() or "solver: unknown",
        file=sys.stderr if report.returncode else sys.stdout,
    )
    print("restart the bot to use them (its worker processes load yt-dlp at start)")
    return report.returncode


_AFTER: Final = """
import sys
from musicbot import config
from musicbot.extract.options import Mode, build_options
from musicbot.extract.update import installed
from musicbot.extract.runtime import solver_report
for name, version in installed().items():
    print(f"{name}={version or ''}")
r = solver_report(build_options(config.load(None)[0].extractor, mode=Mode.URL, playlist_cap=1))
print(f"solver: {r.runtime} with {r.scripts}" if r.ok else f"solver: PROBLEM: {r.problem}",
      file=sys.stderr)
sys.exit(0 if r.ok else 1)
"""


if __name__ == "__main__":
    sys.exit(main())
