"""``python -m musicbot doctor``: is this server ready to run the bot?  One line per check.

Each check answers ``ok``, ``FAIL`` (something the operator must fix; the exit status is 1) or
``skip`` (the check could not be made, and why: no token configured, no network).  Nothing
secret is printed: the token is sent once (``GET /gateway/bot``, which both proves the token
and names the gateway) and never shown; errors are reduced to their kind and status.

The checks, in order: the config is valid; Discord accepts the token; the gateway answers
with HELLO; ffmpeg runs; the JavaScript runtime runs and yt-dlp sees it; the challenge solver
scripts are there and match yt-dlp; yt-dlp is recent; the data directory is writable; the DAVE
libraries load; which voice packet path runs (the C accelerator, or the slower Python fallback
where it was not built); the egress guard is on.
"""

from __future__ import annotations

import datetime
import enum
import importlib
import importlib.metadata
import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import attrs
import httpx
import trio

from musicbot import egress
from musicbot.config import Config
from musicbot.extract.options import Mode, build_options
from musicbot.extract.probe import ffmpeg_path
from musicbot.extract.runtime import STALE_DAYS, freshness, solver_report
from musicbot.procenv import child_env

NETWORK_TIMEOUT: Final = 10.0
GATEWAY_OP_HELLO: Final = 10  # the first frame a Discord gateway sends
USER_AGENT: Final = "DiscordBot (https://github.com/musicbot, doctor)"


class Status(enum.Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@attrs.frozen
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name:<16} {self.detail}"


def _ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, Status.FAIL, detail)


def _skip(name: str, detail: str) -> Check:
    return Check(name, Status.SKIP, detail)


def _network_reason(exc: BaseException) -> str:
    """The kind of a network failure, without URLs, headers or tokens."""
    if isinstance(exc, httpx.TimeoutException | trio.TooSlowError | TimeoutError):
        return "timed out"
    if isinstance(exc, httpx.ConnectError | ConnectionError | OSError):
        return "cannot connect (offline, DNS or firewall?)"
    return type(exc).__name__


# ------------------------------------------------------------------ Discord


async def check_token(cfg: Config) -> tuple[Check, str | None]:
    """``GET /gateway/bot`` with the token: accepted → the gateway URL it names."""
    name = "token"
    if not cfg.token:
        return _skip(name, "no token configured (DISCORD_TOKEN or [discord] token_file)"), None
    headers = {"Authorization": f"Bot {cfg.token.value}", "User-Agent": USER_AGENT}
    try:
        async with httpx.AsyncClient(timeout=NETWORK_TIMEOUT) as client:
            response = await client.get(
                cfg.discord.api_base.rstrip("/") + "/gateway/bot", headers=headers
            )
    except (httpx.HTTPError, OSError) as exc:
        return _skip(name, f"could not reach Discord's API: {_network_reason(exc)}"), None
    if response.status_code == 401:
        return _fail(
            name, "Discord rejected the token (401): reset it in the developer portal"
        ), None
    if response.status_code == 429:
        wait = response.headers.get("retry-after", "?")
        return _skip(name, f"Discord is rate limiting this token; try again in {wait} s"), None
    if response.status_code != 200:
        return _fail(name, f"GET /gateway/bot answered HTTP {response.status_code}"), None
    try:
        body = response.json()
        url = str(body["url"])
    except (ValueError, KeyError, TypeError):
        return _fail(name, "GET /gateway/bot answered without a gateway URL"), None
    shards = body.get("shards", "?") if isinstance(body, dict) else "?"
    return _ok(name, f"accepted by Discord ({shards} shard(s) recommended)"), url


async def check_gateway(cfg: Config, named: str | None) -> Check:
    """Open the gateway websocket and wait for HELLO."""
    import trio_websocket

    name = "gateway"
    url = cfg.discord.gateway_url or named
    if not url:
        return _skip(name, "no gateway URL: set [discord] gateway_url or a token to ask Discord")
    try:
        with trio.fail_after(NETWORK_TIMEOUT):
            async with trio_websocket.open_websocket_url(
                url.rstrip("/") + "/?v=10&encoding=json",
                extra_headers=[(b"User-Agent", USER_AGENT.encode())],
            ) as ws:
                message = json.loads(await ws.get_message())
    except (OSError, trio.TooSlowError, trio_websocket.HandshakeError) as exc:
        return _fail(name, f"not reachable: {_network_reason(exc)}")
    except (trio_websocket.ConnectionClosed, ValueError) as exc:
        return _fail(name, f"closed before HELLO ({type(exc).__name__})")
    if not isinstance(message, dict) or message.get("op") != GATEWAY_OP_HELLO:
        return _fail(name, "answered, but not with HELLO")
    interval = message.get("d", {}).get("heartbeat_interval", "?")
    return _ok(name, f"HELLO received (heartbeat every {interval} ms)")


# ------------------------------------------------------------------ this machine


async def check_ffmpeg(cfg: Config) -> Check:
    name = "ffmpeg"
    exe = ffmpeg_path(cfg.audio.ffmpeg)
    try:
        with trio.fail_after(NETWORK_TIMEOUT):
            done = await trio.run_process(
                [exe, "-hide_banner", "-version"],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=child_env(),
            )
    except (OSError, trio.TooSlowError) as exc:
        return _fail(name, f"{exe!r} does not run ({type(exc).__name__}): check [audio] ffmpeg")
    if done.returncode != 0:
        return _fail(name, f"{exe!r} exited with {done.returncode}: check [audio] ffmpeg")
    first = done.stdout.decode(errors="replace").splitlines()[:1]
    version = first[0].split(" Copyright")[0] if first else "ffmpeg"
    return _ok(name, version)


def check_solver(cfg: Config) -> list[Check]:
    """The JS runtime as yt-dlp sees it with the bot's options, and the solver scripts."""
    opts = build_options(cfg.extractor, mode=Mode.URL, playlist_cap=1)
    report = solver_report(opts)
    setting = cfg.extractor.js_runtime
    if report.runtime is None:
        runtime = _fail(
            "js runtime", f"{report.problem}: check [extractor] js_runtime ({setting!r})"
        )
    elif not report.runtime_supported:
        runtime = _fail("js runtime", f"{report.problem}: install a newer one or use deno")
    else:
        runtime = _ok(
            "js runtime", f"yt-dlp sees {report.runtime} ([extractor] js_runtime = {setting!r})"
        )
    if report.scripts is None:
        scripts = _fail("solver scripts", report.problem or "yt-dlp-ejs is missing")
    else:
        scripts = _ok("solver scripts", f"{report.scripts} matches this yt-dlp")
    return [runtime, scripts]


def check_age(today: datetime.date | None) -> Check:
    fresh = freshness(today)
    if fresh.age_days is None:
        return _fail("yt-dlp age", f"{fresh.describe()}: reinstall with make setup")
    if fresh.stale:
        return _fail(
            "yt-dlp age", f"{fresh.describe()} (> {STALE_DAYS}): run make update-extractor"
        )
    return _ok("yt-dlp age", fresh.describe())


def check_data_dir(cfg: Config) -> Check:
    name = "data dir"
    path = Path(cfg.storage.data_dir)
    probe = path / f".doctor-{secrets.token_hex(4)}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as exc:
        return _fail(name, f"{str(path)!r} is not writable: {exc.strerror or type(exc).__name__}")
    return _ok(name, f"{str(path)!r} is writable")


def check_dave() -> Check:
    name = "DAVE"
    loaded = []
    for module, dist in (("davey", "davey"), ("dave", "dave.py")):
        try:
            importlib.import_module(module)
        except Exception as exc:  # a broken native library raises more than ImportError
            return _fail(name, f"{dist} does not load ({type(exc).__name__}): run make setup")
        try:
            loaded.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            loaded.append(dist)
    return _ok(name, ", ".join(loaded) + " load")


def check_voice_path() -> Check:
    """The C accelerator (``musicbot.voice._rtpfast``) or the pure-Python fallback: both work;
    the fallback costs each packet 2-3 µs more CPU, so it is reported, not failed."""
    from musicbot.voice import rtp

    name = "voice packets"
    if rtp.NATIVE:
        from musicbot.voice import _rtpfast

        return _ok(name, f"C accelerator ({_rtpfast.OPENSSL_VERSION})")
    return _ok(
        name,
        "Python fallback (slower): install a C compiler and OpenSSL's headers "
        "(Debian: gcc libssl-dev), then run make setup",
    )


def check_egress(cfg: Config) -> Check:
    name = "egress guard"
    x = cfg.extractor
    if x.allow_private_addresses:
        return _fail(
            name,
            "off: [extractor] allow_private_addresses = true lets user links reach this "
            "machine's private network (tests only)",
        )
    if not egress.needed(x):
        return _ok(
            name, "off: [extractor] proxy is set; it must keep links out of private networks"
        )
    return _ok(name, "on: every connection of yt-dlp and ffmpeg is checked")


# ------------------------------------------------------------------ all of them


async def run_checks(cfg: Config, *, today: datetime.date | None = None) -> list[Check]:
    token, gateway_url = await check_token(cfg)
    checks = [_ok("config", "valid"), token, await check_gateway(cfg, gateway_url)]
    checks.append(await check_ffmpeg(cfg))
    checks.extend(await trio.to_thread.run_sync(check_solver, cfg))
    checks.append(check_age(today))
    checks.append(check_data_dir(cfg))
    checks.append(check_dave())
    checks.append(check_voice_path())
    checks.append(check_egress(cfg))
    return checks


def report(checks: Sequence[Check], out: Callable[[str], None] = print) -> int:
    """Print one line per check and a summary; the exit status (1 when anything failed)."""
    for check in checks:
        out(check.line())
    failed = [c.name for c in checks if c.status is Status.FAIL]
    skipped = [c.name for c in checks if c.status is Status.SKIP]
    summary = "all checks passed" if not failed else f"{len(failed)} failed: {', '.join(failed)}"
    if skipped:
        summary += f"; could not check: {', '.join(skipped)}"
    out(summary)
    return 1 if failed else 0


def config_failure(problem: str) -> Check:
    return _fail("config", problem)


def main(cfg: Config, *, today: datetime.date | None = None) -> int:
    checks = trio.run(lambda: run_checks(cfg, today=today))
    return report(checks)


__all__ = ["Check", "Status", "config_failure", "main", "report", "run_checks"]
