"""Structured logging with secret redaction.

Theory: structlog and the standard library share one pipeline.  structlog events are
handed to stdlib logging (``LoggerFactory``) and rendered by a ``ProcessorFormatter``; stdlib
records from httpx, yt-dlp, trio-websocket or hypercorn go through the same formatter as
"foreign" records.  So every line, ours or a library's, passes the same processors:

1. context variables (``guild_id``, ``shard_id`` bound with :func:`bind`) are merged in;
2. exceptions are rendered to text (``format_exc_info``) *before* redaction, so a token
   inside an exception message, a chained cause or a traceback frame is caught;
3. :class:`Redactor` replaces every configured secret in every string, nested containers and
   the ``repr`` of other objects with ``[REDACTED]``;
4. JSON lines or console rendering.

The redactor is installed before any secret is known (it starts empty) and is updated in
place by :func:`configure`, so a log line emitted during start-up is covered once the token is.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from musicbot.config import LogConfig

REDACTED: Final = "[REDACTED]"
_MIN_SECRET_LEN: Final = 8  # shorter "secrets" would redact ordinary words


class Redactor:
    """A structlog processor that removes secrets from everything in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret that contains another is removed whole.
        keep = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}
        self._secrets = tuple(sorted(keep, key=len, reverse=True))

    def redact_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _clean(self, value: Any, depth: int = 0) -> Any:
        if not self._secrets or value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
            return self.redact_text(text) if any(s in text for s in self._secrets) else value
        if depth > 8:
            return self.redact_text(repr(value))
        if isinstance(value, Mapping):
            return {self._clean(k, depth + 1): self._clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v, depth + 1) for v in value]
        if isinstance(value, BaseException):
            # Keep the type, but never let an exception object carry a secret to a renderer.
            text = "".join(_exception_lines(value))
            return self.redact_text(text) if any(s in text for s in self._secrets) else value
        text = repr(value)
        return self.redact_text(text) if any(s in text for s in self._secrets) else value

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        if not self._secrets:
            return event_dict
        for key in list(event_dict):
            event_dict[key] = self._clean(event_dict[key])
        return event_dict


def _exception_lines(exc: BaseException) -> Iterator[str]:
    import traceback

    yield from traceback.format_exception(exc)


class _StdlibRedactingFilter(logging.Filter):
    """Redacts ``record.msg``/``args`` of stdlib records before the formatter sees them."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = f"{record.msg} {record.args!r}"
            record.args = None
        if isinstance(record.msg, str):
            record.msg = self._redactor.redact_text(record.msg)
        return True


_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# Libraries that are chatty at INFO; they still log warnings and errors.
_QUIET: Final = ("httpx", "httpcore", "hypercorn.access", "hypercorn.error", "trio-websocket")


def _spare_event(args: tuple[Any, ...], kw: dict[str, Any]) -> dict[str, Any]:
    if args and "event" in kw:
        kw["event_field"] = kw.pop("event")
    return kw


class BoundLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger, except that a log call can never raise over its fields.

    ``log.error("router_event_failed", event=...)`` is a ``TypeError`` in structlog (``event``
    is the message's own parameter), and a log call that raises ends the task that made it:
    issue 13 found one such line taking down the router.  Here the methods take the message
    positionally only, and a field named ``event`` is kept as ``event_field`` instead.
    """

    def debug(self, *args: Any, **kw: Any) -> Any:
        return super().debug(*args, **_spare_event(args, kw))

    def info(self, *args: Any, **kw: Any) -> Any:
        return super().info(*args, **_spare_event(args, kw))

    def warning(self, *args: Any, **kw: Any) -> Any:
        return super().warning(*args, **_spare_event(args, kw))

    warn = warning

    def error(self, *args: Any, **kw: Any) -> Any:
        return super().error(*args, **_spare_event(args, kw))

    def critical(self, *args: Any, **kw: Any) -> Any:
        return super().critical(*args, **_spare_event(args, kw))

    fatal = critical

    def exception(self, *args: Any, **kw: Any) -> Any:
        return super().exception(*args, **_spare_event(args, kw))


def configure(
    cfg: LogConfig,
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Install the logging pipeline.  Returns the redactor so later secrets can be added."""
    redactor = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        structlog.processors.format_exc_info,
        redactor,
    ]
    renderer: Processor
    if cfg.format == "json":
        renderer = structlog.processors.JSONRenderer(
            default=lambda o: redactor.redact_text(repr(o))
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redactor, renderer],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if cfg.file:
        handlers.append(
            logging.handlers.WatchedFileHandler(cfg.file, encoding="utf-8")  # logrotate-friendly
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_StdlibRedactingFilter(redactor))
        root.addHandler(handler)
    root.setLevel(_LEVELS[cfg.level])
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, _LEVELS[cfg.level]))

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=BoundLogger,
        cache_logger_on_first_use=False,
    )
    return redactor


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Bind fields (``guild_id=…``, ``shard_id=…``) to every log line of the current task.

    Trio tasks inherit a copy of the parent's context, so a child task spawned inside the
    block carries the fields too, and siblings never see each other's.
    """
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
