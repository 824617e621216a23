"""The environment a child process gets: what it needs to run, nothing else.

Theory.  A child inherits its parent's whole environment by default, and the bot's holds
``DISCORD_TOKEN`` (and whatever else the operator exported: proxy credentials, cloud keys).
ffmpeg parses media a stranger chose, so a parser bug there must not be able to read the
token from ``/proc/self/environ`` or pass it on.  Every subprocess the bot starts is therefore
given :func:`child_env`: an allow-list of the variables a program needs to find its libraries,
its locale, a temporary directory and the system's CA certificates.

Libraries that start their own children (yt-dlp runs ffmpeg or a JavaScript runtime itself,
copying ``os.environ``) cannot be given an environment; for them :func:`forget_secrets`
removes the token variables from this process's environment once the config has read them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Final

import trio

# PATH: find helper programs; HOME/TMPDIR: where temporary and cache files may go; LANG/LC_*:
# the locale for decoding names; TZ: timestamps; SSL_CERT_*: an operator's CA bundle.
ALLOWED: Final = (
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
DEFAULT_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
FFMPEG_NICE: Final = 10  # every ffmpeg (playback, probes) runs this much nicer than the bot
# Variables that hold the bot's secrets (the config reads DISCORD_TOKEN, and the Spotify
# client secret when the operator sets it through the environment).
SECRET_VARIABLES: Final = ("DISCORD_TOKEN", "MUSICBOT_SPOTIFY_CLIENT_SECRET")


def lower_priority(pid: int, by: int) -> None:
    """Make child ``pid`` ``by`` nicer than this process (at most 19).  Relative, so a bot that
    was itself started nice never gives a child a *higher* priority than its own; a child that
    has already exited is left alone."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + by))


async def open_ffmpeg(argv: Sequence[str], *, stdout: int, stderr: int) -> trio.Process:
    """Start an ffmpeg (or any child that parses media a stranger chose) the one way the bot
    does: an argv list (no shell), stdin closed, :func:`child_env` (never the token), and
    ``FFMPEG_NICE`` below the bot, so under CPU pressure it yields to the voice clock and
    the gateway heartbeat, not the other way round.  The caller waits for or kills it."""
    process = await trio.lowlevel.open_process(
        list(argv), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=child_env()
    )
    lower_priority(process.pid, FFMPEG_NICE)
    return process


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for a subprocess, taken from ``environ`` (default: this one's)."""
    source = os.environ if environ is None else environ
    env = {k: source[k] for k in ALLOWED if k in source}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def forget_secrets(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the secret variables from ``environ`` (default: ``os.environ``) so that no child
    started later, by us or by a library, inherits them.  Returns the names removed."""
    target = os.environ if environ is None else environ
    removed = [name for name in SECRET_VARIABLES if name in target]
    for name in removed:
        del target[name]
    return removed
