"""What yt-dlp needs besides itself: a JavaScript runtime, the EJS solver, and to be recent.

Theory.  Since yt-dlp 2025.11.12 full YouTube support needs an external JavaScript runtime to
solve the player's "n" and signature challenges, and the challenge-solver scripts (the
``yt-dlp-ejs`` package, pulled in by ``yt-dlp[default]``).  Without them yt-dlp warns "No
supported JavaScript runtime could be found" and formats go missing.  The ``deno`` wheel ships
the binary inside the environment, so the bot names that binary explicitly in yt-dlp's
``js_runtimes`` option: it works under systemd, Docker and ``make run`` whatever PATH says.

``[extractor] js_runtime`` chooses: ``"deno"`` (the environment's own deno), ``"node"``,
``"bun"``, ``"quickjs"`` (found on PATH by yt-dlp), or a path to one of those binaries (the
runtime is told by the file name: ``deno``, ``node``, ``bun``, ``qjs``/``quickjs``).

YouTube changes its player every few weeks and old yt-dlp releases stop working; yt-dlp's
version *is* its release date (``2026.10.26``), so its age is known without the network.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import re
import sysconfig
from pathlib import Path
from typing import Any, Final

import attrs
import structlog

log = structlog.get_logger(__name__)

RUNTIMES: Final = ("deno", "node", "bun", "quickjs")
# Older than this and YouTube has very likely broken it (its player changes every few weeks).
STALE_DAYS: Final = 60
_VERSION_DATE = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})")
_BASENAMES: Final[dict[str, str]] = {
    "deno": "deno",
    "node": "node",
    "nodejs": "node",
    "bun": "bun",
    "qjs": "quickjs",
    "quickjs": "quickjs",
}


def bundled_deno() -> str | None:
    """The deno binary of the environment the bot runs in (the ``deno`` wheel), if any."""
    try:
        import deno

        found = str(deno.find_deno_bin())
    except (ImportError, OSError, RuntimeError):
        found = ""
    if found and os.access(found, os.X_OK):
        return found
    scripts = Path(sysconfig.get_path("scripts")) / (
        "deno" + (sysconfig.get_config_var("EXE") or "")
    )
    return str(scripts) if os.access(scripts, os.X_OK) else None


def js_runtimes(setting: str) -> dict[str, dict[str, str]]:
    """yt-dlp's ``js_runtimes`` option for ``[extractor] js_runtime``."""
    if setting == "deno":
        path = bundled_deno()
        return {"deno": {"path": path} if path else {}}
    if setting in RUNTIMES:
        return {setting: {}}
    name = _BASENAMES.get(Path(setting).name.lower().removesuffix(".exe"), "deno")
    return {name: {"path": setting}}


# ------------------------------------------------------------------ freshness


@attrs.frozen(kw_only=True)
class Freshness:
    version: str
    released: datetime.date | None
    age_days: int | None

    @property
    def stale(self) -> bool:
        return self.age_days is not None and self.age_days > STALE_DAYS

    def describe(self) -> str:
        if self.age_days is None:
            return f"yt-dlp {self.version} (release date unknown)"
        return f"yt-dlp {self.version}, {self.age_days} days old"


def installed_version() -> str:
    """yt-dlp's version from its package metadata (importing yt-dlp itself costs ~0.5 s of CPU
    and memory the audio process does not need)."""
    try:
        return importlib.metadata.version("yt-dlp")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def log_freshness(fresh: Freshness) -> None:
    """The start-up line: yt-dlp's version and age, a warning when it is too old."""
    fields = {"version": fresh.version, "age_days": fresh.age_days}
    if fresh.stale:
        log.warning(
            "extractor_outdated",
            **fields,
            fix=f"yt-dlp is older than {STALE_DAYS} days and YouTube breaks old versions: run "
            "`make update-extractor` (or pip install -U 'yt-dlp[default]') and restart",
        )
    else:
        log.info("extractor_version", **fields)


def release_date(version: str) -> datetime.date | None:
    m = _VERSION_DATE.match(version)
    if m is None:
        return None
    try:
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def freshness(today: datetime.date | None = None, version: str | None = None) -> Freshness:
    """yt-dlp's version and how many days ago it was released."""
    if version is None:
        version = installed_version()
    released = release_date(version)
    today = today or datetime.datetime.now(datetime.UTC).date()
    age = (today - released).days if released else None
    return Freshness(version=version, released=released, age_days=age)


# ------------------------------------------------------------------ the solver


@attrs.frozen(kw_only=True)
class SolverReport:
    """Whether yt-dlp can solve YouTube's challenges here: runtime seen, scripts valid."""

    runtime: str | None  # "deno 2.9.8" as yt-dlp sees it; None when it sees none
    runtime_supported: bool
    scripts: str | None  # "yt-dlp-ejs 0.8.0" when the solver scripts load and match
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.runtime is not None and self.runtime_supported and self.scripts is not None


def solver_report(opts: dict[str, Any]) -> SolverReport:
    """Open yt-dlp with ``opts`` (the bot's own) and ask what it sees.  Blocking; no network.

    The runtime is what yt-dlp itself detects from ``js_runtimes`` (it runs ``deno --version``);
    the solver scripts are the ones yt-dlp would load from the ``yt-dlp-ejs`` package, checked
    against the hashes this yt-dlp release accepts (a mismatched pair is refused by yt-dlp).
    """
    import yt_dlp

    with yt_dlp.YoutubeDL({**opts, "quiet": True, "logger": _Silent()}) as ydl:
        runtimes = ydl._js_runtimes  # yt-dlp's own detection, the one extraction uses
    runtime, supported = None, False
    for rt in runtimes.values():
        info = rt.info if rt is not None else None
        if info is not None:
            runtime, supported = f"{info.name} {info.version}", bool(info.supported)
            break
    scripts, problem = _scripts()
    if runtime is None:
        problem = "yt-dlp finds no JavaScript runtime (" + ", ".join(runtimes) + ")"
    elif not supported:
        problem = f"{runtime} is too old for yt-dlp"
    return SolverReport(
        runtime=runtime, runtime_supported=supported, scripts=scripts, problem=problem
    )


def _scripts() -> tuple[str | None, str]:
    try:
        import yt_dlp_ejs.yt.solver as solver
        from yt_dlp.extractor.youtube.jsc._builtin import vendor
    except ImportError as exc:
        return None, f"the challenge solver is not installed ({exc.name}): pip install yt-dlp-ejs"
    import yt_dlp_ejs

    pairs = (
        (solver.core(), "yt.solver.core.min.js"),
        (solver.lib(), "yt.solver.lib.min.js"),
    )
    for code, name in pairs:
        if hashlib.sha3_512(code.encode()).hexdigest() != vendor.HASHES.get(name):
            return None, f"yt-dlp-ejs {yt_dlp_ejs.version} does not match this yt-dlp ({name})"
    return f"yt-dlp-ejs {yt_dlp_ejs.version}", ""


class _Silent:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass
