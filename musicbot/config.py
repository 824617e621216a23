"""Validated configuration.

Theory: ``config.toml`` is parsed with :mod:`tomllib`, environment overrides
(``MUSICBOT_<SECTION>_<KEY>``) are merged on top, and the result is structured into
frozen attrs classes.  Validation never stops at the first problem: every mistake is
collected as a :class:`ConfigProblem` (``section.key: what is wrong (got X)``) so an
operator fixes them all in one pass.  Unknown keys get a "did you mean" suggestion.

The token is never part of these classes' ``repr``; it lives in :class:`Secret`.
"""

from __future__ import annotations

import collections.abc
import difflib
import os
import ssl
import stat
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from musicbot.errors import ConfigError, ConfigProblem

TOKEN_ENV: Final = "DISCORD_TOKEN"
ENV_PREFIX: Final = "MUSICBOT_"

DEFAULT_ALLOWED_DOMAINS: Final[tuple[str, ...]] = (
    "youtube.com",
    "youtu.be",
    "music.youtube.com",
    "soundcloud.com",
    "bandcamp.com",
    "vimeo.com",
    "twitch.tv",
    "mixcloud.com",
    "audiomack.com",
    "archive.org",
)


@attrs.frozen(repr=False)
class Secret:
    """A secret string whose repr and str never show the value."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)

    def masked(self) -> str:
        if not self.value:
            return "(not set)"
        return f"{self.value[:4]}…(masked, {len(self.value)} chars)"


@attrs.frozen(kw_only=True)
class DiscordConfig:
    api_base: str = "https://discord.com/api/v10"
    # Empty means "ask GET /gateway/bot"; set it to point the bot at a local emulator.
    gateway_url: str = ""
    token: Secret = Secret("")
    token_file: str = ""
    # "auto" uses the recommendation of GET /gateway/bot.
    shard_count: int | Literal["auto"] = "auto"
    # "auto" runs every shard of shard_count in this process.
    shard_ids: tuple[int, ...] | Literal["auto"] = "auto"
    command_guild_ids: tuple[int, ...] = ()
    owner_ids: tuple[int, ...] = ()
    compress: bool = True
    # A PEM file of CAs trusted for the voice gateway's TLS instead of the system's ("": the
    # system store).  The emulator sets it to the CA it made for the run; never disables checks.
    ca_file: str = ""


@attrs.frozen(kw_only=True)
class AudioConfig:
    ffmpeg: str = "bundled"
    bitrate: int = 128  # kbit/s of the Opus encoder when transcoding
    default_volume: int = 100  # percent, 0..200
    demux_in_process: bool = True  # WebM/Ogg Opus at 100 %: fetched and demuxed without ffmpeg


@attrs.frozen(kw_only=True)
class LimitsConfig:
    max_queue_length: int = 500
    max_track_seconds: int = 3 * 60 * 60
    max_playlist_import: int = 200
    user_commands: int = 5  # per user, within user_commands_period seconds
    user_commands_period: float = 10.0
    max_playlists_per_scope: int = 25  # saved playlists per guild, and per user
    max_playlist_tracks: int = 500


@attrs.frozen(kw_only=True)
class VoiceConfig:
    idle_timeout: float = 300.0
    alone_timeout: float = 60.0
    stay_24_7: bool = False
    # After a voice close 4014/4022 (a move, a new voice server, a kick): how long to wait for
    # the gateway's VOICE_SERVER_UPDATE before giving the call up (seconds).
    move_timeout: float = 10.0
    # Seconds between edits of the now-playing message's progress while members listen (0 = off).
    now_playing_refresh: float = 15.0


@attrs.frozen(kw_only=True)
class ExtractorConfig:
    # "auto": one less than the CPUs this process may use, 1 to 4 (see worker_processes).
    workers: int | Literal["auto"] = "auto"
    timeout: float = 30.0
    allowed_domains: tuple[str, ...] = DEFAULT_ALLOWED_DOMAINS
    allow_private_addresses: bool = False
    search_provider: str = "ytsearch"  # a yt-dlp prefix, or a URL template with {query}
    search_results: int = 5
    # Where autoplay finds tracks related to a non-YouTube track: "" (none) or a URL template
    # with {url} (the track's page, URL-encoded) whose page lists them (actors.extractor.related).
    related_provider: str = ""
    cookies_file: str = ""
    user_agent: str = ""
    proxy: str = ""
    extractor_args: Mapping[str, Mapping[str, tuple[str, ...]]] = attrs.field(factory=dict)
    playlist_batch_size: int = 50
    playlist_batch_pause: float = 1.0
    js_runtime: str = "deno"  # deno (the environment's own), node, bun, quickjs, or a path

    @property
    def worker_processes(self) -> int:
        """How many yt-dlp worker processes run at most.

        ``"auto"`` leaves one CPU to the process that paces audio: extraction is CPU-bound, so
        more workers than free CPUs finish no sooner and take the clock's CPU (on 2 cores, 4
        heavy extractions in 4 workers put 50 streams' pacing p99 at 8-12 ms; in 1 worker,
        under 5 ms).
        """
        if self.workers != "auto":
            return self.workers
        return auto_workers()


@attrs.frozen(kw_only=True)
class CacheConfig:
    max_entries: int = 5000
    ttl: float = 6 * 3600.0  # metadata
    stream_ttl: float = 1800.0  # stream URLs expire sooner
    negative_ttl: float = 60.0  # failures are remembered this long
    sweep_interval: float = 60.0


@attrs.frozen(kw_only=True)
class StorageConfig:
    data_dir: str = "data"
    resume_sessions: bool = True
    snapshot_debounce: float = 2.0
    # "" = SQLite in data_dir; "sqlite:PATH"; "postgresql://..."; "files" = the JSON files.
    url: Secret = Secret("")


@attrs.frozen(kw_only=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "console"
    file: str = ""


@attrs.frozen(kw_only=True)
class OpsConfig:
    listen: str = ""  # e.g. "127.0.0.1:9464"; empty = off
    shutdown_timeout: float = 10.0


@attrs.frozen(kw_only=True)
class LyricsConfig:
    enabled: bool = True
    api_base: str = "https://lrclib.net/api"  # the only host /lyrics contacts
    timeout: float = 5.0


@attrs.frozen(kw_only=True)
class SpotifyConfig:
    """Spotify links (musicbot.spotify): the Web API's client-credentials flow.  Empty keys
    turn Spotify links off (they are answered with what the operator must set)."""

    client_id: str = ""
    client_secret: Secret = Secret("")
    api_base: str = "https://api.spotify.com/v1"  # the only hosts Spotify look-ups contact
    accounts_base: str = "https://accounts.spotify.com"
    timeout: float = 10.0  # seconds per request

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@attrs.frozen(kw_only=True)
class Config:
    discord: DiscordConfig = DiscordConfig()
    audio: AudioConfig = AudioConfig()
    limits: LimitsConfig = LimitsConfig()
    voice: VoiceConfig = VoiceConfig()
    extractor: ExtractorConfig = ExtractorConfig()
    cache: CacheConfig = CacheConfig()
    storage: StorageConfig = StorageConfig()
    log: LogConfig = LogConfig()
    ops: OpsConfig = OpsConfig()
    lyrics: LyricsConfig = LyricsConfig()
    spotify: SpotifyConfig = SpotifyConfig()

    @property
    def token(self) -> Secret:
        return self.discord.token

    def secrets(self) -> tuple[str, ...]:
        """Every secret value the log redactor must remove."""
        from urllib.parse import urlsplit

        try:
            db_password = urlsplit(self.storage.url.value).password or ""
        except ValueError:
            db_password = ""
        spotify = self.spotify.client_secret.value
        return tuple(s for s in (self.discord.token.value, db_password, spotify) if s)


SECTIONS: Final[dict[str, type[Any]]] = {
    "discord": DiscordConfig,
    "audio": AudioConfig,
    "limits": LimitsConfig,
    "voice": VoiceConfig,
    "extractor": ExtractorConfig,
    "cache": CacheConfig,
    "storage": StorageConfig,
    "log": LogConfig,
    "ops": OpsConfig,
    "lyrics": LyricsConfig,
    "spotify": SpotifyConfig,
}


# ---------------------------------------------------------------- validation


Check = Callable[[Any], str | None]


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _refresh_interval(v: Any) -> str | None:
    """0 (off), or at least a second: a channel's message edits are rate limited."""
    return None if v == 0 or v >= 1 else "must be 0 (off) or at least 1 second"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _between(lo: float, hi: float) -> Check:
    def check(v: Any) -> str | None:
        return None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}"

    return check


def _workers(v: Any) -> str | None:
    if v == "auto" or (_is_int(v) and 1 <= v <= 64):
        return None
    return 'must be "auto" or a number between 1 and 64'


def auto_workers() -> int:
    """One less than the CPUs this process may run on (its affinity), between 1 and 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus - 1))


def _listen(v: Any) -> str | None:
    if v == "":
        return None
    host, sep, port = str(v).rpartition(":")
    # Port 0 asks the OS for a free port (tests; the bound URL is logged as ops_server_started).
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        return 'must be "host:port", e.g. "127.0.0.1:9464", or "" to turn it off'
    return None


def _http_url(v: Any) -> str | None:
    return (
        None
        if str(v).startswith(("http://", "https://"))
        else "must start with http:// or https://"
    )


def _ws_url(v: Any) -> str | None:
    if v == "" or str(v).startswith(("ws://", "wss://")):
        return None
    return 'must start with ws:// or wss://, or be "" to ask Discord'


def _js_runtime(v: Any) -> str | None:
    if v in ("deno", "node", "bun", "quickjs"):
        return None
    if "/" not in str(v):
        return "must be deno, node, bun, quickjs or a path to one of them"
    name = Path(str(v)).name.lower().removesuffix(".exe")
    if name not in ("deno", "node", "nodejs", "bun", "qjs", "quickjs"):
        return "the file name must say which runtime it is (deno, node, bun, qjs)"
    return None


def _search_provider(v: Any) -> str | None:
    s = str(v)
    if s.startswith(("http://", "https://")):
        return None if "{query}" in s else "a search URL must contain {query}"
    if not s or not s.replace("_", "").isalnum():
        return 'must be a yt-dlp search prefix ("ytsearch", "scsearch") or a URL with {query}'
    return None


def _related_provider(v: Any) -> str | None:
    s = str(v)
    if s == "":
        return None
    if not s.startswith(("http://", "https://")):
        return 'must be "" (none) or a URL template starting with http:// or https://'
    return None if "{url}" in s else "a related-tracks URL must contain {url}"


def _storage_url(v: Any) -> str | None:
    text = v.value if isinstance(v, Secret) else str(v)
    if text in ("", "files") or text.startswith(("sqlite:", "postgresql://", "postgres://")):
        return None
    return 'must be "" (SQLite in data_dir), "sqlite:PATH", "postgresql://..." or "files"'


def _pem_file(v: Any) -> str | None:
    if v == "":
        return None
    try:
        ssl.create_default_context(cafile=str(v))  # loads it: a bad file is refused here
    except (OSError, ssl.SSLError):
        return 'must name a readable PEM file of CA certificates, or be "" for the system store'
    return None


def _spotify_client_id(v: Any) -> str | None:
    s = str(v)
    if s == "" or (s.isascii() and s.isalnum()):
        return None
    return 'must be the Client ID of your Spotify app (letters and digits), or "" for none'


def _spotify_client_secret(v: Any) -> str | None:
    text = v.value if isinstance(v, Secret) else str(v)
    if text == "" or (text.isascii() and text.isalnum()):
        return None
    # The value is a secret: the problem never repeats it (see build's "got").
    return 'must be the Client secret of your Spotify app (letters and digits), or ""'


CHECKS: Final[dict[tuple[str, str], Check]] = {
    ("discord", "api_base"): _http_url,
    ("discord", "gateway_url"): _ws_url,
    ("discord", "ca_file"): _pem_file,
    ("voice", "now_playing_refresh"): _refresh_interval,
    ("lyrics", "api_base"): _http_url,
    ("lyrics", "timeout"): _positive,
    ("spotify", "client_id"): _spotify_client_id,
    ("spotify", "client_secret"): _spotify_client_secret,
    ("spotify", "api_base"): _http_url,
    ("spotify", "accounts_base"): _http_url,
    ("spotify", "timeout"): _between(0.5, 120),
    ("audio", "bitrate"): _between(6, 510),
    ("audio", "default_volume"): _between(0, 200),
    ("limits", "max_queue_length"): _positive,
    ("limits", "max_track_seconds"): _positive,
    ("limits", "max_playlist_import"): _positive,
    ("limits", "user_commands"): _positive,
    ("limits", "user_commands_period"): _positive,
    ("limits", "max_playlists_per_scope"): _positive,
    ("limits", "max_playlist_tracks"): _positive,
    ("voice", "idle_timeout"): _positive,
    ("voice", "alone_timeout"): _positive,
    ("voice", "move_timeout"): _positive,
    ("extractor", "workers"): _workers,
    ("extractor", "timeout"): _positive,
    ("extractor", "search_results"): _between(1, 25),
    ("extractor", "search_provider"): _search_provider,
    ("extractor", "related_provider"): _related_provider,
    ("extractor", "js_runtime"): _js_runtime,
    ("extractor", "playlist_batch_size"): _positive,
    ("extractor", "playlist_batch_pause"): _non_negative,
    ("cache", "max_entries"): _positive,
    ("cache", "ttl"): _positive,
    ("cache", "stream_ttl"): _positive,
    ("cache", "negative_ttl"): _non_negative,
    ("cache", "sweep_interval"): _positive,
    ("storage", "snapshot_debounce"): _non_negative,
    ("storage", "url"): _storage_url,
    ("ops", "listen"): _listen,
    ("ops", "shutdown_timeout"): _positive,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _convert(tp: Any, value: Any) -> Any:
    """Convert one TOML value to the field's type; raise ValueError with a reason."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        literals = [a for a in args if typing.get_origin(a) is typing.Literal]
        others = [a for a in args if typing.get_origin(a) is not typing.Literal]
        allowed = [x for lit in literals for x in typing.get_args(lit)]
        if value in allowed:
            return value
        try:
            return _convert(others[0], value)
        except ValueError as exc:
            raise ValueError(f"{exc}, or " + " or ".join(f'"{a}"' for a in allowed)) from None
    if origin is typing.Literal:
        if value not in args:
            raise ValueError("must be one of " + ", ".join(f'"{a}"' for a in args))
        return value
    if tp is Secret:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return Secret(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if tp is int:
        if not _is_int(value):
            raise ValueError("must be an integer")
        return value
    if tp is float:
        if not (_is_int(value) or isinstance(value, float)):
            raise ValueError("must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value
    if origin is tuple and args and args[0] is int:
        ok = isinstance(value, list) and all(
            _is_int(v) or (isinstance(v, str) and v.isdigit()) for v in value
        )
        if not ok:
            raise ValueError("must be a list of ids")
        return tuple(int(v) for v in value)
    if origin is tuple and args and args[0] is str:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError("must be a list of strings")
        return tuple(v.strip().lower() for v in value)
    if origin in (Mapping, collections.abc.Mapping):
        return _convert_extractor_args(value)
    raise TypeError(f"no converter for {tp!r}")  # a programming error, not a user one


def _convert_extractor_args(value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(value, dict):
        raise ValueError('must be a table like { youtube = { player_client = ["web"] } }')
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for ie, ie_args in value.items():
        if not isinstance(ie_args, dict):
            raise ValueError(f"{ie} must be a table of lists of strings")
        inner: dict[str, tuple[str, ...]] = {}
        for k, v in ie_args.items():
            items = [v] if isinstance(v, str) else v
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ValueError(f"{ie}.{k} must be a list of strings")
            inner[k] = tuple(items)
        out[ie] = inner
    return out


def _fields(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``MUSICBOT_<SECTION>_<KEY>=value``; the value is read as TOML when it parses."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if not key:
            continue
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.setdefault(section, {})[key] = value
    return out


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def build(
    data: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "config.toml",
) -> Config:
    """Structure ``data`` (parsed TOML) plus environment overrides into a Config."""
    environ = os.environ if environ is None else environ
    problems: list[ConfigProblem] = []
    merged: dict[str, dict[str, Any]] = {}
    for section, body in data.items():
        if section not in SECTIONS:
            problems.append(
                ConfigProblem(
                    section, "", "unknown section" + _suggest(section, list(SECTIONS)), ""
                )
            )
            continue
        if not isinstance(body, dict):
            problems.append(
                ConfigProblem(section, "", "must be a table [" + section + "]", _short(body))
            )
            continue
        merged[section] = dict(body)
    for section, body in _env_overrides(environ).items():
        if section not in SECTIONS:
            # e.g. MUSICBOT_DATA_DIR would be a typo for MUSICBOT_STORAGE_DATA_DIR.
            problems.append(
                ConfigProblem(
                    section,
                    "",
                    f"unknown section in environment variable {ENV_PREFIX}{section.upper()}_*"
                    + _suggest(section, list(SECTIONS)),
                    "",
                )
            )
            continue
        merged.setdefault(section, {}).update(body)

    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        fields = _fields(cls)
        body = merged.get(section, {})
        kwargs: dict[str, Any] = {}
        for key, value in body.items():
            if key not in fields:
                problems.append(
                    ConfigProblem(section, key, "unknown key" + _suggest(key, list(fields)), "")
                )
                continue
            # A secret's value is never repeated in a problem (it would reach the terminal).
            got = "(hidden)" if fields[key] is Secret else _short(value)
            try:
                converted = _convert(fields[key], value)
            except ValueError as exc:
                problems.append(ConfigProblem(section, key, str(exc), got))
                continue
            check = CHECKS.get((section, key))
            reason = check(converted) if check else None
            if reason:
                problems.append(ConfigProblem(section, key, reason, got))
                continue
            kwargs[key] = converted
        sections[section] = cls(**kwargs)

    cfg = Config(**sections)
    if cfg.discord.shard_ids != "auto":
        count = cfg.discord.shard_count
        if count == "auto":
            problems.append(
                ConfigProblem(
                    "discord",
                    "shard_ids",
                    'needs shard_count set to a number, not "auto"',
                    _short(list(cfg.discord.shard_ids)),
                )
            )
        elif any(i >= count for i in cfg.discord.shard_ids):
            problems.append(
                ConfigProblem(
                    "discord",
                    "shard_ids",
                    f"every id must be below shard_count ({count})",
                    _short(list(cfg.discord.shard_ids)),
                )
            )
    spotify_keys = (bool(cfg.spotify.client_id), bool(cfg.spotify.client_secret))
    if spotify_keys == (True, False):
        problems.append(
            ConfigProblem(
                "spotify",
                "client_secret",
                "must be set too when client_id is (or MUSICBOT_SPOTIFY_CLIENT_SECRET); "
                'leave both "" to turn Spotify links off',
                "",
            )
        )
    elif spotify_keys == (False, True):
        problems.append(
            ConfigProblem(
                "spotify",
                "client_id",
                'must be set too when client_secret is; leave both "" to turn Spotify links off',
                "",
            )
        )
    if problems:
        raise ConfigError(source=source, problems=tuple(problems))
    return cfg


def _resolve_token(
    cfg: Config, path: Path | None, environ: Mapping[str, str]
) -> tuple[Config, list[str]]:
    """Pick the token: environment first, then token_file, then config.toml (with a warning)."""
    warnings: list[str] = []
    token = environ.get(TOKEN_ENV, "").strip()
    if not token and cfg.discord.token_file:
        tf = Path(cfg.discord.token_file).expanduser()
        if not tf.is_absolute() and path is not None:
            tf = path.parent / tf
        try:
            token = tf.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                source=str(path or "config.toml"),
                problems=(
                    ConfigProblem(
                        "discord", "token_file", f"cannot be read ({exc.strerror})", str(tf)
                    ),
                ),
            ) from None
    if not token and cfg.discord.token:
        token = cfg.discord.token.value
        if path is not None:
            mode = path.stat().st_mode
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                warnings.append(
                    f"discord.token is written in {path}, which other users can read; "
                    f"use {TOKEN_ENV} or token_file, or run: chmod 600 {path}"
                )
    return attrs.evolve(cfg, discord=attrs.evolve(cfg.discord, token=Secret(token))), warnings


def load(
    path: Path | str | None, *, environ: Mapping[str, str] | None = None
) -> tuple[Config, list[str]]:
    """Read, validate and resolve the config.  Returns it with a list of warnings.

    Raises :class:`ConfigError` carrying every problem found.
    """
    environ = os.environ if environ is None else environ
    p = Path(path) if path is not None else None
    data: dict[str, Any] = {}
    if p is not None:
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                source=str(p),
                problems=(
                    ConfigProblem("", "", "file not found; copy config.toml from the project", ""),
                ),
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                source=str(p), problems=(ConfigProblem("", "", f"not valid TOML: {exc}", ""),)
            ) from None
    cfg = build(data, environ=environ, source=str(p) if p else "defaults")
    return _resolve_token(cfg, p, environ)


def render(cfg: Config) -> str:
    """The effective config as TOML, with the token masked."""
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        obj = getattr(cfg, section)
        for f in attrs.fields(type(obj)):
            lines.append(f"{f.name} = {_toml_value(getattr(obj, f.name))}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, Secret):
        return f'"{v.masked()}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return repr(v)
