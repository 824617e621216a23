"""Command line: ``python -m musicbot {run,check-config,doctor,emulator,export,import}``.

Exit codes: 0 ok, 2 bad configuration or usage, 1 runtime failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NoReturn

from musicbot import __version__, config, procenv
from musicbot.errors import ConfigError, MusicBotError

EXIT_OK: Final = 0
EXIT_RUNTIME: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_CONFIG: Final = "config.toml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m musicbot",
        description="A Discord music bot built as a Trio actor system.",
    )
    parser.add_argument("--version", action="version", version=f"musicbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="start the bot",
        description=(
            "Start the bot. With DISCORD_TOKEN (or [discord] token_file) it connects to Discord; "
            "without a token it starts the local Discord emulator with a console."
        ),
    )
    run.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml")

    check = sub.add_parser(
        "check-config",
        help="validate a config file and print the effective configuration",
        description="Validate the config (with environment overrides) and print it, token masked.",
    )
    check.add_argument("path", nargs="?", default=DEFAULT_CONFIG, help="path to config.toml")

    doctor = sub.add_parser(
        "doctor",
        help="check that this server can run the bot (one line per check)",
        description=(
            "Check the config, the token (one REST call), the gateway, ffmpeg, the JavaScript "
            "runtime and challenge solver yt-dlp uses, yt-dlp's age, the data dir, the DAVE "
            "libraries and the egress guard. Exit 1 when any check fails."
        ),
    )
    doctor.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml")

    emu = sub.add_parser(
        "emulator",
        help="start the local Discord emulator and the bot with a console",
        description=(
            "Start the local Discord emulator (gateway, REST, voice with a DAVE listener) and the "
            "bot against it, with a console to type slash commands. Needs no network."
        ),
    )
    emu.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml")

    # storage: JSON dumps of the database (musicbot/storage/cli.py)
    export = sub.add_parser(
        "export",
        help="write every playlist, guild setting and session as one JSON dump",
        description="Dump the configured storage (any engine) as JSON, to move or back it up.",
    )
    export.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml")
    export.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    imp = sub.add_parser(
        "import",
        help="load a JSON dump into the configured database",
        description="Load a dump made by export into the database, in one transaction.",
    )
    imp.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml")
    imp.add_argument("--replace", action="store_true", help="replace what the database holds")
    imp.add_argument("dump", help="the dump file")
    return parser


def _load(path: str) -> tuple[config.Config, list[str]]:
    p = Path(path)
    if path == DEFAULT_CONFIG and not p.exists():
        return config.load(None)
    return config.load(p)


def _print_config_error(exc: ConfigError) -> None:
    print(str(exc), file=sys.stderr)
    print("The bot will not start until these are fixed.", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg, warnings = _load(args.config if args.command != "check-config" else args.path)
    except ConfigError as exc:
        if args.command == "doctor":
            from musicbot import doctor

            problems = "; ".join(line.strip() for line in str(exc).splitlines()[1:4]) or str(exc)
            return doctor.report([doctor.config_failure(problems)])
        _print_config_error(exc)
        return EXIT_USAGE
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)

    if args.command == "check-config":
        print(config.render(cfg))
        from musicbot.extract.runtime import STALE_DAYS, freshness

        fresh = freshness()
        note = f" (older than {STALE_DAYS} days: make update-extractor)" if fresh.stale else ""
        print(("warning: " if fresh.stale else "") + fresh.describe() + note, file=sys.stderr)
        print("configuration ok", file=sys.stderr)
        return EXIT_OK

    # The token is in cfg now; no child process (ours or yt-dlp's) may inherit it.
    procenv.forget_secrets()

    if args.command == "doctor":
        from musicbot import doctor

        return doctor.main(cfg)

    if args.command in ("export", "import"):
        from musicbot.storage import cli

        if args.command == "export":
            return cli.export_command(cfg, args.output)
        return cli.import_command(cfg, args.dump, args.replace)

    # The composition root imports everything; importing it late keeps --help fast.
    from musicbot.app import run, run_embedded

    try:
        if args.command == "emulator" or not cfg.token:
            return run_embedded(cfg)
        return run(cfg)
    except ConfigError as exc:
        _print_config_error(exc)
        return EXIT_USAGE
    except MusicBotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
