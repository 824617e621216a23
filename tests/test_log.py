"""Logging: JSON lines, context binding, and the token never reaching any output."""

from __future__ import annotations

import io
import json
import logging

import structlog
import trio

from musicbot import config
from musicbot.log import REDACTED, bind, configure, get_logger

TOKEN = "MTEyMzQ1Njc4OTAxMjM0NTY3OA.GhIjKl.very-secret-token-value-xyz"


def _json_logging() -> tuple[io.StringIO, config.LogConfig]:
    stream = io.StringIO()
    cfg = config.LogConfig(level="debug", format="json")
    configure(cfg, secrets=[TOKEN], stream=stream)
    return stream, cfg


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


class _TokenCarrier:
    def __repr__(self) -> str:
        return f"Carrier(token={TOKEN})"


def test_token_is_removed_from_fields_nested_values_and_exception_chains() -> None:
    stream, _ = _json_logging()
    log = get_logger("test")
    log.info(
        "plain", header=f"Bot {TOKEN}", nested={"a": [TOKEN, {"b": TOKEN}]}, obj=_TokenCarrier()
    )
    try:
        try:
            try:
                raise ValueError(f"bad header Authorization: Bot {TOKEN}")
            except ValueError as inner:
                raise RuntimeError("request failed") from inner
        except RuntimeError:
            raise KeyError(f"context {TOKEN[:40]}") from None
    except KeyError:
        log.exception("failed_with_suppressed_context")
    try:
        try:
            raise ValueError(f"deep {TOKEN}")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        log.error("chained", exc_info=exc, error=exc)
    out = stream.getvalue()
    assert TOKEN not in out
    assert REDACTED in out
    events = [e["event"] for e in _lines(stream)]
    assert events == ["plain", "failed_with_suppressed_context", "chained"]
    chained = _lines(stream)[2]
    assert "ValueError" in str(chained["exception"]) and "RuntimeError" in str(chained["exception"])


def test_stdlib_loggers_go_through_the_same_pipeline() -> None:
    stream, _ = _json_logging()
    logging.getLogger("httpx.fake").warning("GET with token %s failed", TOKEN)
    (line,) = _lines(stream)
    assert line["level"] == "warning"
    assert TOKEN not in json.dumps(line)
    assert REDACTED in str(line["event"])


async def test_context_fields_are_bound_per_task() -> None:
    stream, _ = _json_logging()
    log = get_logger("test")

    async def actor(guild_id: int) -> None:
        with bind(guild_id=guild_id):
            await trio.lowlevel.checkpoint()
            log.info("tick")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor, 1)
            nursery.start_soon(actor, 2)
        log.info("outside")
    lines = _lines(stream)
    assert sorted(line.get("guild_id") for line in lines if line["event"] == "tick") == [1, 2]
    assert "guild_id" not in next(line for line in lines if line["event"] == "outside")


def test_console_format_and_level_filtering() -> None:
    stream = io.StringIO()
    configure(config.LogConfig(level="warning", format="console"), secrets=[TOKEN], stream=stream)
    log = get_logger("test")
    log.info("hidden")
    log.warning("shown", token=TOKEN)
    out = stream.getvalue()
    assert "hidden" not in out
    assert "shown" in out and TOKEN not in out


def teardown_module() -> None:
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_a_field_named_event_cannot_make_a_log_call_raise() -> None:
    """Issue 13 item 1's root cause: ``event=`` collides with structlog's own argument."""
    stream, _ = _json_logging()
    log = structlog.get_logger("router")
    log.error("router_event_failed", event="InteractionCreate", guild_id=5)
    log.warning("w", event="x")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", event="y")
    lines = _lines(stream)
    assert [line["event"] for line in lines] == ["router_event_failed", "w", "failed"]
    assert [line["event_field"] for line in lines] == ["InteractionCreate", "x", "y"]
    assert "boom" in str(lines[2]["exception"])
