"""The shard supervisor: runs this process's shards and routes guilds to them.

Theory.  ``GET /gateway/bot`` tells how many shards Discord recommends, the gateway URL, and
``session_start_limit`` (``remaining`` identifies today and ``max_concurrency``).  The manager:

* resolves ``shard_count="auto"`` and the URL (a configured ``gateway_url`` wins);
* refuses to start when the identifies it needs would eat into the last few of the day
  (Discord resets the token of a bot that uses them all);
* starts the shards in id order through one :class:`IdentifyGate`, so shard ``i`` identifies in
  bucket ``i % max_concurrency``, one per bucket per 5 s;
* is ``one_for_all``: a fatal close of any shard (:class:`GatewayFatalError`) stops them all and
  propagates unwrapped, so the bot stops with the cause and the fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal, TypeAlias

import structlog
import trio

from musicbot.config import DiscordConfig, Secret
from musicbot.gateway.codec import Compression
from musicbot.gateway.constants import IDENTIFY_WINDOW
from musicbot.gateway.errors import GatewayFatalError, GatewayInfoError, SessionStartLimitError
from musicbot.gateway.events import GatewayDispatch
from musicbot.gateway.handle import ShardHandle
from musicbot.gateway.ratelimit import IdentifyCoordinator, IdentifyGate
from musicbot.gateway.shard import Shard
from musicbot.gateway.state import DEFAULT_OPTIONS, GatewayMetrics, ShardOptions

log = structlog.get_logger(__name__)

# Far beyond any real bot (Discord asks for one shard per ~1000 guilds); a larger count in the
# answer of GET /gateway/bot is a broken answer, not a plan.
MAX_SHARDS: Final = 65_536

GatewayBotSource: TypeAlias = Callable[[], Awaitable[Mapping[str, Any]]]
"""An async callable returning the JSON of ``GET /gateway/bot`` (the REST client's
``get_gateway_bot``)."""


def shard_for_guild(guild_id: int, shard_count: int) -> int:
    """Discord's routing: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


class ShardManager:
    """Runs this process's shards (see the module for the theory); :meth:`run` starts them."""

    def __init__(
        self,
        *,
        token: Secret,
        events: trio.MemorySendChannel[GatewayDispatch],
        get_gateway_bot: GatewayBotSource | None,
        shard_count: int | Literal["auto"] = "auto",
        shard_ids: tuple[int, ...] | Literal["auto"] = "auto",
        gateway_url: str = "",
        compress: bool | Compression = True,
        options: ShardOptions = DEFAULT_OPTIONS,
        identify_floor: int = 2,
        identify_window: float = IDENTIFY_WINDOW,
        metrics: GatewayMetrics | None = None,
        identify_coordinator: IdentifyCoordinator | None = None,
    ) -> None:
        if get_gateway_bot is None and (shard_count == "auto" or not gateway_url):
            raise ValueError("without get_gateway_bot, shard_count and gateway_url must be set")
        self._token = token
        self._events = events
        self._get_gateway_bot = get_gateway_bot
        self._shard_count_setting = shard_count
        self._shard_ids_setting = shard_ids
        self._gateway_url = gateway_url
        self._compress = compress
        self._options = options
        self._identify_floor = identify_floor
        self._identify_window = identify_window
        self._metrics = metrics
        self._identify_coordinator = identify_coordinator  # across processes (storage)
        self._shards: dict[int, Shard] = {}
        self.shard_count = 0
        self.identify_gate: IdentifyGate | None = None

    @classmethod
    def from_config(
        cls,
        config: DiscordConfig,
        *,
        events: trio.MemorySendChannel[GatewayDispatch],
        get_gateway_bot: GatewayBotSource | None,
        options: ShardOptions = DEFAULT_OPTIONS,
        metrics: GatewayMetrics | None = None,
        identify_coordinator: IdentifyCoordinator | None = None,
    ) -> ShardManager:
        """A manager for the ``[discord]`` section of the configuration."""
        return cls(
            token=config.token,
            events=events,
            get_gateway_bot=get_gateway_bot,
            shard_count=config.shard_count,
            shard_ids=config.shard_ids,
            gateway_url=config.gateway_url,
            compress=config.compress,
            options=options,
            metrics=metrics,
            identify_coordinator=identify_coordinator,
        )

    # ------------------------------------------------------------------ handles

    def shard(self, shard_id: int) -> ShardHandle:
        """The handle of shard ``shard_id``; raises ``KeyError`` for a shard this process does not
        run."""
        return ShardHandle(self._shards[shard_id])

    def shards(self) -> tuple[ShardHandle, ...]:
        """The handles of every shard this process runs, in id order."""
        return tuple(ShardHandle(s) for _, s in sorted(self._shards.items()))

    def for_guild(self, guild_id: int) -> ShardHandle:
        """The handle of the shard that owns ``guild_id`` (KeyError if not in this process)."""
        return self.shard(shard_for_guild(guild_id, self.shard_count))

    async def close(self) -> None:
        """Graceful shutdown: every shard sends what is queued and closes with a resumable
        code (see :meth:`Shard.close`); returns once all have stopped.  Bound it with a timeout."""
        async with trio.open_nursery() as nursery:
            for shard in self._shards.values():
                nursery.start_soon(shard.close)

    async def wait_ready(self) -> None:
        """Wait until every shard of this process is READY (or RESUMED) at least once now."""
        for shard in list(self._shards.values()):
            await shard.wait_ready()

    # ------------------------------------------------------------------ running

    async def _plan(self) -> tuple[int, tuple[int, ...], str, IdentifyGate]:
        info: Mapping[str, Any] = {}
        if self._get_gateway_bot is not None:
            info = await self._get_gateway_bot()
        try:
            count, ids, url, gate = self._plan_from(info)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise GatewayInfoError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        gate.check_start(len(ids))
        return count, ids, url, gate

    def _plan_from(self, info: Mapping[str, Any]) -> tuple[int, tuple[int, ...], str, IdentifyGate]:
        if not isinstance(info, Mapping):
            raise TypeError("the answer is not an object")
        count_setting = self._shard_count_setting
        count = int(info["shards"]) if count_setting == "auto" else count_setting
        if not 1 <= count <= MAX_SHARDS:
            raise ValueError(f"shards = {count}")
        ids = (
            tuple(range(count))
            if self._shard_ids_setting == "auto"
            else tuple(sorted(self._shard_ids_setting))
        )
        url = self._gateway_url or str(info["url"])
        limit = info.get("session_start_limit") or {}
        gate = IdentifyGate(
            max_concurrency=max(1, int(limit.get("max_concurrency", 1))),
            remaining=int(limit.get("remaining", 1000)),
            total=int(limit.get("total", 1000)),
            reset_after=float(limit.get("reset_after", 86_400_000)) / 1000.0,
            floor=self._identify_floor,
            window=self._identify_window,
            coordinator=self._identify_coordinator,
        )
        return count, ids, url, gate

    async def run(
        self, *, task_status: trio.TaskStatus[ShardManager] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Plan, start every shard in id order, and run until cancelled.

        ``task_status.started(self)`` fires once every shard exists (handles work; payloads
        queue until their shard is READY).  Raises :class:`SessionStartLimitError` (before
        connecting, or when reconnects would use up the last session starts) and
        :class:`GatewayFatalError` on a fatal close, both unwrapped from exception groups.
        """
        count, ids, url, gate = await self._plan()
        self.shard_count = count
        self.identify_gate = gate
        for shard_id in ids:
            self._shards[shard_id] = Shard(
                shard_id=shard_id,
                shard_count=count,
                token=self._token,
                gateway_url=url,
                events=self._events,
                identify_gate=gate,
                compress=self._compress,
                options=self._options,
                metrics=self._metrics,
            )
        log.info(
            "gateway_shards_starting",
            shard_count=count,
            shard_ids=list(ids),
            max_concurrency=gate.max_concurrency,
            session_starts_remaining=gate.remaining,
        )
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(self)
                for shard_id in ids:
                    await nursery.start(self._shards[shard_id].run)
        except BaseExceptionGroup as group:
            fatal = _first_fatal(group)
            if fatal is not None:
                raise fatal from None
            raise


def _first_fatal(
    group: BaseExceptionGroup[BaseException],
) -> GatewayFatalError | SessionStartLimitError | None:
    for exc in group.exceptions:
        if isinstance(exc, GatewayFatalError | SessionStartLimitError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_fatal(exc)
            if found is not None:
                return found
    return None
