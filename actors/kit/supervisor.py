"""Supervision trees with Erlang/OTP semantics on Trio.

Theory.  A supervisor is a task that owns a nursery of children and one control inbox.  Every
child runs inside a *runner* task with its own cancel scope; when the child returns or raises,
the runner reports the exit to the supervisor's inbox and the supervisor alone decides what
happens next (restart, leave it dead, or give up).  Handles never restart anything.

* **Strategies.**  ``ONE_FOR_ONE`` restarts only the child that died.  ``ONE_FOR_ALL`` stops the
  surviving siblings in reverse start order, then starts every non-temporary child again in
  order.  ``SIMPLE_ONE_FOR_ONE`` has no static children: one template spec and dynamic children
  keyed by an id (a guild id), added with ``start_child(key)`` and removed with
  ``stop_child(key)``; each restarts on its own like ``ONE_FOR_ONE``.
* **Restart types.**  ``PERMANENT`` children are always restarted, ``TRANSIENT`` ones only after
  an abnormal exit (an exception), ``TEMPORARY`` ones never.
* **Intensity.**  Each restart decision is stamped with ``trio.current_time()``.  When more than
  ``intensity`` restarts fall within the last ``period`` seconds, the supervisor stops all its
  children (reverse order) and raises :class:`musicbot.errors.SupervisorGaveUp` to its parent,
  chained to the crash that broke the limit.  A child that fails while (re)starting counts too.
* **Intensity of a dynamic child.**  Under ``SIMPLE_ONE_FOR_ONE`` every keyed child is its own
  unit (one guild's bug must not stop every guild), so the intensity is counted per child, and
  past it the supervisor does not escalate: it restarts the child once more with
  ``ctx.exhausted`` set and its window cleared.  The child is then expected to *hold*: keep its
  state but stop doing the work that crashed (a guild actor keeps the queue and stops playing)
  until a member asks again.  This counter is the only crash counter of the tree; children do
  not count their own crashes.  A held child that fails before it is ready is dropped (logged).
* **Start = ready.**  Children start one after another with ``nursery.start``; a child is
  running once it has called ``task_status.started(value)``.  ``value`` (typically the child's
  handle) is what ``lookup(key)`` returns; a restart replaces it.
* **Stop = cancel, in reverse order.**  Stopping a child cancels its own scope and waits up to
  its ``shutdown`` seconds (it may run shielded cleanup, e.g. leave voice).  A child still alive
  after that is logged (``supervisor_child_shutdown_timeout``) and the next one is stopped; Trio
  cannot kill a task that ignores cancellation, so the nursery still waits for it at the end.
  The children's nursery is shielded: cancelling the supervisor from outside turns into the
  same ordered shutdown instead of cancelling every child at once.
* **Last state.**  A child may call ``ctx.save_state(obj)`` at any time; when it is restarted
  its new :class:`ChildContext` carries ``last_state`` and ``restart_count``.  The guild actor
  keeps its last queue snapshot this way.  ``stop_child`` discards the state.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar, assert_never

import attrs
import structlog
import trio

from actors.kit.mailbox import ask, reply
from musicbot.errors import ActorDeadError, MusicBotError, SupervisorGaveUp

log = structlog.get_logger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
K = TypeVar("K", bound=Hashable)

CONTROL_INBOX_SIZE = 16  # exits and requests; runners wait when it is full


class Strategy(enum.Enum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    SIMPLE_ONE_FOR_ONE = "simple_one_for_one"


class Restart(enum.Enum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after an exception
    TEMPORARY = "temporary"  # never restarted


@attrs.frozen(kw_only=True)
class RestartPolicy:
    """``restart`` is the default for children whose spec does not name one."""

    strategy: Strategy = Strategy.ONE_FOR_ONE
    restart: Restart = Restart.PERMANENT
    intensity: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    period: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))


@attrs.define(eq=False)
class ChildContext:
    """What a child's start function learns about itself; one per started instance."""

    name: str
    key: Hashable
    restart_count: int
    last_state: Any
    _record: _Child = attrs.field(repr=False)
    # Past its intensity (simple_one_for_one): hold the saved state, do not resume the work.
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
    restart: Restart | None = None  # None: the supervisor policy's default
    shutdown: float = 5.0  # seconds to wait after cancelling the child


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    """Static ``children`` (one_for_one, one_for_all) or one ``template`` (simple_one_for_one)."""

    name: str
    policy: RestartPolicy = RestartPolicy()
    children: tuple[ChildSpec[Any], ...] = ()
    template: ChildSpec[Any] | None = None
    # Called with the supervisor's name on every child restart (e.g. Metrics.supervisor_restart).
    on_restart: Callable[[str], None] | None = None

    def __attrs_post_init__(self) -> None:
        simple = self.policy.strategy is Strategy.SIMPLE_ONE_FOR_ONE
        if simple and (self.template is None or self.children):
            raise ValueError("simple_one_for_one needs a template and no static children")
        if not simple and self.template is not None:
            raise ValueError("only simple_one_for_one supervisors take a template")
        names = [c.name for c in self.children]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in supervisor {self.name!r}")


@attrs.frozen
class ChildInfo:
    """A read-only view of one child for ``which_children()``."""

    key: Hashable
    name: str
    restart: Restart
    running: bool
    restart_count: int
    value: Any


@attrs.define(auto_exc=True, eq=False)
class ChildStartError(MusicBotError):
    """``start_child`` could not start a dynamic child (it failed before it was ready)."""

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
    restart: Restart
    restart_count: int = 0
    state: Any = None
    value: Any = None
    running: bool = False
    stopping: bool = False
    instance: int = 0
    scope: trio.CancelScope | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    restart_times: deque[float] = attrs.field(factory=deque)  # per child (simple_one_for_one)
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
class _StopChild:
    key: Hashable
    reply: trio.MemorySendChannel[bool]


@attrs.frozen(kw_only=True)
class _Stop:
    reply: trio.MemorySendChannel[None]


_Control = _Exited | _StartChild | _StopChild | _Stop


@attrs.define(auto_exc=True, eq=False)
class _GiveUp(Exception):
    child: str
    restarts: int
    cause: BaseException | None


class _Ready(trio.TaskStatus[Any]):
    """Wraps a child's task status to learn whether it got as far as ``started()``."""

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self._inner = inner
        self.called = False

    def started(self, value: Any = None) -> None:
        self.called = True
        self._inner.started(value)


def _wants_restart(restart: Restart, error: BaseException | None) -> bool:
    match restart:
        case Restart.PERMANENT:
            return True
        case Restart.TRANSIENT:
            return error is not None
        case Restart.TEMPORARY:
            return False
        case _:
            assert_never(restart)


class _Supervisor:
    """The state one supervisor task owns.  Only :meth:`serve` (and runners reporting through
    the inbox) change it; the handle reads it synchronously, which is safe on one thread."""

    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.policy = spec.policy
        self.children: dict[Hashable, _Child] = {}  # insertion order = start order
        self.restart_times: deque[float] = deque()
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
        gave_up: _GiveUp | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                with self.loop_scope:
                    for spec in self.spec.children:
                        child = self._record(spec.name, spec.name, spec)
                        try:
                            await self._start(child)
                        except Exception as exc:
                            log.error(
                                "supervisor_child_start_failed",
                                **self._fields(child),
                                cause=repr(exc),
                                exc_info=exc,
                            )
                            raise _GiveUp(child.name, 0, exc) from exc
                    task_status.started(SupervisorHandle(self))
                    log.debug("supervisor_started", supervisor=self.name)
                    async for msg in self.receive:
                        with trio.CancelScope(shield=True):
                            if await self._handle(msg):
                                break
            except _GiveUp as exc:
                gave_up = exc
            await self._stop_all()
            self._refuse_pending()
            for channel in self.stop_replies:
                reply(channel, None)
            # A child that overran its shutdown timeout is still waited for here.
        if gave_up is not None:
            log.error(
                "supervisor_gave_up",
                supervisor=self.name,
                child=gave_up.child,
                restarts=gave_up.restarts,
                period=self.policy.period,
                cause=repr(gave_up.cause),
            )
            raise SupervisorGaveUp(
                self.name, gave_up.child, gave_up.restarts, self.policy.period, gave_up.cause
            ) from gave_up.cause
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
                case _StopChild(reply=channel):
                    reply(channel, False)
                case _Exited():
                    pass
                case _:
                    assert_never(msg)
        self.receive.close()

    def _record(self, key: Hashable, name: str, spec: ChildSpec[Any]) -> _Child:
        child = _Child(key=key, name=name, spec=spec, restart=spec.restart or self.policy.restart)
        self.children[key] = child
        return child

    def _fields(self, child: _Child) -> dict[str, Any]:
        return {"supervisor": self.name, "child": child.name, "restart": child.restart.value}

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
                reply(channel, await self._start_dynamic(key))
            case _StopChild(key=key, reply=channel):
                reply(channel, await self._stop_dynamic(key))
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
        error = msg.error
        if error is None:
            log.info("supervisor_child_exited", **self._fields(child))
        else:
            log.warning(
                "supervisor_child_crashed", **self._fields(child), cause=repr(error), exc_info=error
            )
        simple = self.policy.strategy is Strategy.SIMPLE_ONE_FOR_ONE
        if not _wants_restart(child.restart, error):
            if simple or child.restart is Restart.TEMPORARY:
                del self.children[msg.key]
            return
        if simple:
            await self._restart_dynamic(child, error)
            return
        self._note_restart(child, error)
        if self.policy.strategy is not Strategy.ONE_FOR_ALL:
            await self._restart(child, error)
            return
        for other in reversed(list(self.children.values())):
            await self._stop(other)
        for key, other in list(self.children.items()):
            if other.restart is Restart.TEMPORARY:
                del self.children[key]
        for other in list(self.children.values()):
            await self._restart(other, error)

    def _note_restart(self, child: _Child, cause: BaseException | None) -> None:
        """Stamp one restart; past ``intensity`` restarts within ``period`` give up."""
        now = trio.current_time()
        self.restart_times.append(now)
        while self.restart_times and self.restart_times[0] <= now - self.policy.period:
            self.restart_times.popleft()
        if len(self.restart_times) > self.policy.intensity:
            raise _GiveUp(child.name, len(self.restart_times), cause)

    def _past_child_intensity(self, child: _Child) -> bool:
        """Stamp one restart of a dynamic child; True when it is past its own intensity."""
        now = trio.current_time()
        times = child.restart_times
        times.append(now)
        while times and times[0] <= now - self.policy.period:
            times.popleft()
        return len(times) > self.policy.intensity

    async def _restart_dynamic(self, child: _Child, cause: BaseException | None) -> None:
        """simple_one_for_one: restart one keyed child; past its intensity, restart it held."""
        child.exhausted = self._past_child_intensity(child)
        if child.exhausted:
            child.restart_times.clear()
            log.error(
                "supervisor_child_exhausted",
                **self._fields(child),
                intensity=self.policy.intensity,
                period=self.policy.period,
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
            if not child.exhausted:
                await self._restart_dynamic(child, exc)
                return
            del self.children[child.key]  # held, and still failing: nothing more to try
            return
        log.info(
            "supervisor_child_restarted",
            **self._fields(child),
            restart_count=child.restart_count,
            exhausted=child.exhausted,
            cause=repr(cause),
        )

    async def _restart(self, child: _Child, cause: BaseException | None) -> None:
        while True:
            child.restart_count += 1
            self.restarts += 1
            if self.spec.on_restart is not None:
                self.spec.on_restart(self.name)
            try:
                await self._start(child)
            except Exception as exc:
                log.warning(
                    "supervisor_child_start_failed",
                    **self._fields(child),
                    cause=repr(exc),
                    exc_info=exc,
                )
                self._note_restart(child, exc)
                cause = exc
                continue
            log.info(
                "supervisor_child_restarted",
                **self._fields(child),
                restart_count=child.restart_count,
                cause=repr(cause),
            )
            return

    async def _start_dynamic(self, key: Hashable) -> _StartResult:
        template = self.spec.template
        if template is None:
            return _StartResult(error=ValueError("start_child needs a simple_one_for_one"))
        existing = self.children.get(key)
        if existing is not None and existing.running:
            return _StartResult(value=existing.value)
        child = self._record(key, f"{template.name}[{key}]", template)
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

    async def _stop_dynamic(self, key: Hashable) -> bool:
        child = self.children.get(key)
        if child is None:
            return False
        was_running = child.running
        await self._stop(child)
        if self.policy.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
            del self.children[key]
        return was_running


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
        """Child restarts so far (each restarted child counts once), for metrics."""
        return self._sup.restarts

    def lookup(self, key: K) -> T | None:
        """The value the running child under ``key`` passed to ``started()``, else None."""
        child = self._sup.children.get(key)
        if child is None or not child.running:
            return None
        value: T = child.value
        return value

    def which_children(self) -> list[ChildInfo]:
        return [
            ChildInfo(c.key, c.name, c.restart, c.running, c.restart_count, c.value)
            for c in self._sup.children.values()
        ]

    async def start_child(self, key: K, *, timeout: float = 10.0) -> T:
        """Start the template child under ``key`` (simple_one_for_one) and return its value.

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
            name = f"{self._sup.spec.template.name if self._sup.spec.template else '?'}[{key}]"
            raise ChildStartError(self._sup.name, name, result.error) from result.error
        value: T = result.value
        return value

    async def stop_child(self, key: K, *, timeout: float | None = None) -> bool:
        """Stop the child under ``key`` for good (no restart, state discarded for dynamic
        children).  Returns whether it was running."""
        child = self._sup.children.get(key)
        limit = timeout if timeout is not None else (child.spec.shutdown if child else 0) + 5.0
        stopped: bool = await ask(
            self._sup.send,
            lambda r: _StopChild(key=key, reply=r),
            actor=self._sup.name,
            timeout=limit,
        )
        return stopped

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
    reverse order).  ``task_status.started(handle)`` comes once every static child is ready.
    Raises ``SupervisorGaveUp`` past the restart intensity or when a static child fails to
    start."""
    sup = _Supervisor(spec)
    gave_up: SupervisorGaveUp | None = None
    async with trio.open_nursery() as guard:
        guard.start_soon(sup.watch_cancellation)
        with trio.CancelScope(shield=True):
            try:
                await sup.serve(task_status)
            except SupervisorGaveUp as exc:
                gave_up = exc
        guard.cancel_scope.cancel()
    if gave_up is not None:
        raise gave_up
