"""``python -m musicbot.ops.probe``: ask a running bot's ``/healthz`` (for Docker HEALTHCHECK).

It reads the same config as the bot (file plus ``MUSICBOT_*`` environment overrides), so the
probe follows ``[ops] listen`` wherever it is set.  Exit status: 0 healthy or degraded, or the
endpoint is turned off (``listen = ""``: nothing to check); 1 unhealthy or unreachable; 2 the
config cannot be read.  A wildcard bind address (0.0.0.0, ::) is probed on loopback.

Only the standard library's blocking ``urllib`` is used: this runs as its own short process.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Final

from musicbot import config
from musicbot.errors import ConfigError

EXIT_OK: Final = 0
EXIT_FAIL: Final = 1
EXIT_CONFIG: Final = 2
_WILDCARDS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "[::1]", "": "127.0.0.1"}


def healthz_url(listen: str) -> str:
    """``host:port`` from the config → the URL to probe."""
    host, _, port = listen.rpartition(":")
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def check(url: str, *, timeout: float = 3.0) -> tuple[int, str]:
    """(exit status, one line for the operator)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read().decode("utf-8"))
            return EXIT_OK, f"{body.get('status', '?')} ({url})"
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read().decode("utf-8"))
            reasons = "; ".join(r.get("detail", "") for r in body.get("reasons", []))
        except (ValueError, AttributeError):
            reasons = ""
        return EXIT_FAIL, f"HTTP {exc.code} from {url}: {reasons or exc.reason}"
    except (OSError, ValueError) as exc:
        return EXIT_FAIL, f"cannot reach {url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicbot.ops.probe", description=__doc__)
    parser.add_argument("--config", default=None, help="path to config.toml (default: none)")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        cfg, _warnings = config.load(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    if not cfg.ops.listen:
        print("ops.listen is off; nothing to check")
        return EXIT_OK
    status, line = check(healthz_url(cfg.ops.listen), timeout=args.timeout)
    print(line, file=sys.stdout if status == EXIT_OK else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
