"""The guild supervisor: keyed children from one template (OTP's simple_one_for_one) on Trio.

Theory.  A supervisor is a task that owns a nursery of children and one control inbox.  Every
child runs inside a *runner* task with its own cancel scope; when the child returns or raises,
the runner reports the exit to the supervisor's inbox and the supervisor alone decides what
happens next.  Handles never restart anything.

This is all the tree uses, so it is all there is (an earlier version also had static children,
one_for_all and permanent/temporary restarts that nothing used):

* **Keyed children.**  One template spec; ``start_child(key)`` starts an instance under a key
  (a guild id) or returns the running one.  ``lookup(key)`` gives the value the child passed to
  ``task_status.started(value)`` (its handle); a restart replaces it.
* **Transient restarts.**  A child that returns is done and forgotten (with its state); one
  that raises is restarted with a :class:`ChildContext` carrying ``last_state`` (what it saved
  with ``ctx.save_state``) and ``restart_count``.
* **Intensity, per child, and the hold.**  Each restart of a child is stamped with
  ``trio.current_time()``.  When more than ``intensity`` fall within ``period`` seconds, that
  child alone is restarted once more with ``ctx.exhausted`` set and its window cleared: it is
  expected to *hold* (keep its state but stop the work that crashed; a guild actor keeps the
  queue and stops playing) until asked again.  One guild's bug never stops another guild, and
  nothing escalates.  This is the only crash counter of the tree.  A restart that fails before
  the child is ready counts as a crash; a held child that fails before it is ready is dropped.
* **Start = ready, and quick.**  A child is running once it called ``started()``; the control
  loop waits for that, so a child must report itself started before slow work (a guild actor
  reads its disk after ``started()``).
* **Stop = cancel, in reverse start order.**  ``aclose()`` (or cancelling the supervisor)
  cancels each child's scope and waits up to its ``shutdown`` seconds (it may run shielded
  cleanup, e.g. leave voice); one still alive after that is logged
  (``supervisor_child_shutdown_timeout``) and the next one is stopped.  The children's nursery
  is shielded, so an outside cancellation becomes the same ordered stop.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar, assert_never

import attrs
import structlog
import trio

from actors.kit.mailbox import ask, reply
from musicbot.errors import ActorDeadError, MusicBotError

log = structlog.get_logger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
K = TypeVar("K", bound=Hashable)

CONTROL_INBOX_SIZE = 16  # exits and requests; runners wait when it is full (lossless)


@attrs.define(eq=False)
class ChildContext:
    """What a child's start function learns about itself; one per started instance."""

    name: str
    key: Hashable
    restart_count: int
    last_state: Any
    _record: _Child = attrs.field(repr=False)
    # Past its intensity: hold the saved state, do not resume the work that crashed.
    exhausted: bool = False

    def save_state(self, state: Any) -> None:
        """Keep ``state`` for the next instance of this child (after a restart)."""
        self._record.state = state


class ChildStart(Protocol[T_co]):
    """``async def start(ctx, *, task_status)``: call ``task_status.started(value)`` when ready."""

    def __call__(
        self, ctx: ChildContext, *, task_status: trio.TaskStatus[T_co]
    ) -> Awaitable[None]: ...


@attrs.frozen(kw_only=True)
class ChildSpec(Generic[T]):
    name: str
    start: ChildStart[T]
    shutdown: float = 5.0  # seconds to wait after cancelling the child


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    name: str
    template: ChildSpec[Any]
    intensity: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    period: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    # Called with the supervisor's name on every child restart (e.g. Metrics.supervisor_restart).
    on_restart: Callable[[str], None] | None = None


@attrs.frozen
class ChildInfo:
    """A read-only view of one child for ``which_children()``."""

    key: Hashable
    name: str
    running: bool
    restart_count: int
    value: Any


@attrs.define(auto_exc=True, eq=False)
class ChildStartError(MusicBotError):
    """``start_child`` could not start a child (it failed before it was ready)."""

    supervisor: str
    child: str
    cause: BaseException

    def __str__(self) -> str:
        return f"supervisor {self.supervisor!r} could not start {self.child!r}: {self.cause!r}"


@attrs.define(eq=False)
class _Child:
    key: Hashable
    name: str
    spec: ChildSpec[Any]
    restart_count: int = 0
    state: Any = None
    value: Any = None
    running: bool = False
    stopping: bool = False
    instance: int = 0
    scope: trio.CancelScope | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    restart_times: deque[float] = attrs.field(factory=deque)
    exhausted: bool = False


# The supervisor's control messages (private: the handle builds them).


@attrs.frozen(kw_only=True)
class _Exited:
    key: Hashable
    instance: int
    error: Exception | None


@attrs.frozen(kw_only=True)
class _StartResult:
    value: Any = None
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class _StartChild:
    key: Hashable
    reply: trio.MemorySendChannel[_StartResult]


@attrs.frozen(kw_only=True)
class _Stop:
    reply: trio.MemorySendChannel[None]


_Control = _Exited | _StartChild | _Stop


class _Ready(trio.TaskStatus[Any]):
    """Wraps a child's task status to learn whether it got as far as ``started()``."""

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self._inner = inner
        self.called = False

    def started(self, value: Any = None) -> None:
        self.called = True
        self._inner.started(value)


class _Supervisor:
    """The state one supervisor task owns.  Only :meth:`serve` (and runners reporting through
    the inbox) change it; the handle reads it synchronously, which is safe on one thread."""

    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.children: dict[Hashable, _Child] = {}  # insertion order = start order
        self.restarts = 0
        self.send, self.receive = trio.open_memory_channel[_Control](CONTROL_INBOX_SIZE)
        self.loop_scope = trio.CancelScope()
        self.instances = itertools.count(1)
        self.stop_replies: list[trio.MemorySendChannel[None]] = []
        self._nursery: trio.Nursery | None = None

    async def watch_cancellation(self) -> None:
        """Outside the shield: turn the supervisor's own cancellation into an ordered stop."""
        try:
            await trio.sleep_forever()
        finally:
            self.loop_scope.cancel()

    async def serve(self, task_status: trio.TaskStatus[SupervisorHandle[Any, Any]]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            with self.loop_scope:
                task_status.started(SupervisorHandle(self))
                log.debug("supervisor_started", supervisor=self.name)
                async for msg in self.receive:
                    with trio.CancelScope(shield=True):
                        if await self._handle(msg):
                            break
            await self._stop_all()
            self._refuse_pending()
            for channel in self.stop_replies:
                reply(channel, None)
            # A child that overran its shutdown timeout is still waited for here.
        log.debug("supervisor_stopped", supervisor=self.name)

    def _refuse_pending(self) -> None:
        """Answer what is still queued (so no caller waits for a timeout), then close the
        inbox, which also wakes runners still waiting to report an exit."""
        while True:
            try:
                msg = self.receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            match msg:
                case _Stop(reply=channel):
                    self.stop_replies.append(channel)
                case _StartChild(reply=channel):
                    reply(channel, _StartResult(error=ActorDeadError(self.name)))
                case _Exited():
                    pass
                case _:
                    assert_never(msg)
        self.receive.close()

    def _fields(self, child: _Child) -> dict[str, Any]:
        return {"supervisor": self.name, "child": child.name}

    # -- running children ---------------------------------------------------------------

    async def _start(self, child: _Child) -> None:
        assert self._nursery is not None
        child.instance = next(self.instances)
        child.stopping = False
        child.done = trio.Event()
        child.value = await self._nursery.start(self._run_child, child, child.instance)
        child.running = True
        log.debug("supervisor_child_started", **self._fields(child), instance=child.instance)

    async def _run_child(
        self, child: _Child, instance: int, *, task_status: trio.TaskStatus[Any]
    ) -> None:
        done = child.done
        ctx = ChildContext(
            child.name, child.key, child.restart_count, child.state, child, child.exhausted
        )
        ready = _Ready(task_status)
        error: Exception | None = None
        child.scope = trio.CancelScope()
        try:
            with child.scope:
                try:
                    await child.spec.start(ctx, task_status=ready)
                except Exception as exc:
                    if not ready.called:
                        raise  # nursery.start hands it to whoever was starting the child
                    error = exc
        finally:
            done.set()
        if not ready.called or child.stopping or child.instance != instance:
            return
        # A closed inbox means the supervisor is shutting down and already waited on ``done``.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.send.send(_Exited(key=child.key, instance=instance, error=error))

    async def _stop(self, child: _Child) -> None:
        if not child.running:
            return
        child.running = False
        child.stopping = True
        if child.scope is not None:
            child.scope.cancel()
        with trio.move_on_after(child.spec.shutdown) as waited:
            await child.done.wait()
        if waited.cancelled_caught:
            log.warning(
                "supervisor_child_shutdown_timeout",
                **self._fields(child),
                timeout=child.spec.shutdown,
            )
        else:
            log.debug("supervisor_child_stopped", **self._fields(child))

    async def _stop_all(self) -> None:
        for child in reversed(list(self.children.values())):
            await self._stop(child)

    # -- the control loop ---------------------------------------------------------------

    async def _handle(self, msg: _Control) -> bool:
        """Handle one control message; True means stop the supervisor."""
        match msg:
            case _Exited():
                await self._on_exit(msg)
            case _StartChild(key=key, reply=channel):
                reply(channel, await self._start_child(key))
            case _Stop(reply=channel):
                self.stop_replies.append(channel)
                return True
            case _:
                assert_never(msg)
        return False

    async def _on_exit(self, msg: _Exited) -> None:
        child = self.children.get(msg.key)
        if child is None or child.instance != msg.instance or not child.running:
            return  # a stale report from an instance that was stopped or replaced
        child.running = False
        if msg.error is None:
            log.info("supervisor_child_exited", **self._fields(child))
            del self.children[msg.key]  # transient: a normal exit is the end
            return
        log.warning(
            "supervisor_child_crashed",
            **self._fields(child),
            cause=repr(msg.error),
            exc_info=msg.error,
        )
        await self._restart(child, msg.error)

    def _past_intensity(self, child: _Child) -> bool:
        """Stamp one restart of ``child``; True when it is past its intensity."""
        now = trio.current_time()
        times = child.restart_times
        times.append(now)
        while times and times[0] <= now - self.spec.period:
            times.popleft()
        return len(times) > self.spec.intensity

    async def _restart(self, child: _Child, cause: BaseException) -> None:
        """Restart one child from its last state; past its intensity, restart it held."""
        while True:
            child.exhausted = self._past_intensity(child)
            if child.exhausted:
                child.restart_times.clear()
                log.error(
                    "supervisor_child_exhausted",
                    **self._fields(child),
                    intensity=self.spec.intensity,
                    period=self.spec.period,
                    cause=repr(cause),
                )
            child.restart_count += 1
            self.restarts += 1
            if self.spec.on_restart is not None:
                self.spec.on_restart(self.name)
            try:
                await self._start(child)
            except Exception as exc:
                log.error(
                    "supervisor_child_start_failed",
                    **self._fields(child),
                    cause=repr(exc),
                    exc_info=exc,
                )
                if child.exhausted:
                    del self.children[child.key]  # held, and still failing: nothing to try
                    return
                cause = exc
                continue
            log.info(
                "supervisor_child_restarted",
                **self._fields(child),
                restart_count=child.restart_count,
                exhausted=child.exhausted,
                cause=repr(cause),
            )
            return

    async def _start_child(self, key: Hashable) -> _StartResult:
        existing = self.children.get(key)
        if existing is not None and existing.running:
            return _StartResult(value=existing.value)
        template = self.spec.template
        child = _Child(key=key, name=f"{template.name}[{key}]", spec=template)
        self.children[key] = child
        try:
            await self._start(child)
        except Exception as exc:
            del self.children[key]
            log.warning(
                "supervisor_child_start_failed",
                **self._fields(child),
                cause=repr(exc),
                exc_info=exc,
            )
            return _StartResult(error=exc)
        return _StartResult(value=child.value)


class SupervisorHandle(Generic[K, T]):
    """What the supervisor's parent and its clients hold.  It never restarts anything.

    ``lookup`` and ``which_children`` read the supervisor's table directly (safe: one thread,
    no awaits); everything that changes it is a request to the supervisor task.
    """

    def __init__(self, supervisor: _Supervisor) -> None:
        self._sup = supervisor

    @property
    def name(self) -> str:
        return self._sup.name

    @property
    def restarts(self) -> int:
        """Child restarts so far, for metrics."""
        return self._sup.restarts

    def lookup(self, key: K) -> T | None:
        """The value the running child under ``key`` passed to ``started()``, else None."""
        child = self._sup.children.get(key)
        if child is None or not child.running:
            return None
        value: T = child.value
        return value

    def which_children(self) -> list[ChildInfo]:
        """A snapshot of every child: key, name, whether it runs, restarts so far, and its value."""
        return [
            ChildInfo(c.key, c.name, c.running, c.restart_count, c.value)
            for c in self._sup.children.values()
        ]

    async def start_child(self, key: K, *, timeout: float = 10.0) -> T:
        """Start the child under ``key`` and return its value.

        Idempotent: a child already running under ``key`` is returned as is.  Raises
        ``ChildStartError`` when the child fails before it is ready, ``ActorDeadError`` when
        the supervisor has stopped.
        """
        result: _StartResult = await ask(
            self._sup.send,
            lambda r: _StartChild(key=key, reply=r),
            actor=self._sup.name,
            timeout=timeout,
        )
        if isinstance(result.error, ActorDeadError):
            raise result.error  # the supervisor was shutting down
        if result.error is not None:
            name = f"{self._sup.spec.template.name}[{key}]"
            raise ChildStartError(self._sup.name, name, result.error) from result.error
        value: T = result.value
        return value

    async def aclose(self) -> None:
        """Stop every child in reverse start order, then the supervisor.  Idempotent."""
        limit = sum(c.spec.shutdown for c in self._sup.children.values()) + 5.0

        def make(channel: trio.MemorySendChannel[None]) -> _Control:
            return _Stop(reply=channel)

        with contextlib.suppress(ActorDeadError):
            await ask(self._sup.send, make, actor=self._sup.name, timeout=limit)


async def run_supervisor(
    spec: SupervisorSpec,
    *,
    task_status: trio.TaskStatus[SupervisorHandle[Any, Any]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a supervisor until ``handle.aclose()`` or cancellation (both stop the children in
    reverse order)."""
    sup = _Supervisor(spec)
    async with trio.open_nursery() as guard:
        guard.start_soon(sup.watch_cancellation)
        with trio.CancelScope(shield=True):
            await sup.serve(task_status)
        guard.cancel_scope.cancel()
