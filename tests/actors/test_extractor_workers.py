"""yt-dlp in worker processes: hung workers are killed, dead ones replaced, nothing leaks."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import trio

from actors import extractor
from actors.extractor.messages import SingleResult
from actors.extractor.pool import WORKER_NICE, Pool, open_pool, worker_env
from actors.extractor.work import extractor_ref
from musicbot.emulator.media import MediaServer
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.options import Mode, build_options
from tests.actors.conftest import local_config
from tests.extract.sites import DieIE, HangIE, PidIE

TIMEOUT = 90  # absolute limit for each test (worker processes import yt-dlp)
SITES = [extractor_ref(c) for c in (HangIE, DieIE, PidIE)]


def job(url: str) -> dict[str, Any]:
    cfg = local_config().extractor
    return {
        "kind": "url",
        "query": url,
        "opts": build_options(cfg, mode=Mode.URL, playlist_cap=10),
        "extractors": SITES,
        "now": time.time(),
        "stream_ttl": 600.0,
        "playlist_cap": 10,
    }


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_of(reply: dict[str, Any]) -> int:
    return int(reply["ok"]["track"]["title"].removeprefix("pid "))


async def test_a_hung_job_is_killed_and_the_next_job_gets_a_fresh_worker(
    media: MediaServer,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_pool(1) as pool:
            first = await pool.run(job(media.url("/pid")))
            again = await pool.run(job(media.url("/pid")))
            assert pid_of(first) == pid_of(again)  # an idle worker is reused
            with trio.move_on_after(1) as scope:  # the hang reuses that same worker
                await pool.run(job(media.url("/hang")))
            assert scope.cancelled_caught
            assert not alive(pid_of(first))  # cancellation killed (and reaped) it
            assert pool.killed == 1 and pool.live == {}
            fresh = await pool.run(job(media.url("/pid")))
            assert pid_of(fresh) != pid_of(first)
            last = pool.pids()
        assert last and not any(alive(p) for p in last)  # closing the pool kills the rest
    assert pool.started == 2


async def test_a_worker_that_dies_mid_job_is_reported_and_replaced(media: MediaServer) -> None:
    cfg = local_config(extractor={"workers": 1})
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=cfg, extra_extractors=[DieIE, PidIE])
            with pytest.raises(ExtractionError) as died:
                await x.extract(media.url("/die"))
            after = await x.extract(media.url("/pid"))
            nursery.cancel_scope.cancel()
    assert died.value.reason is Reason.WORKER
    assert died.value.reason.transient  # not remembered: the next try gets a new worker
    assert isinstance(after, SingleResult)
    assert after.track.title.startswith("pid ")  # stdout noise did not break the protocol
    assert x.pool is not None and (x.pool.died, x.pool.started) == (1, 2)


async def test_the_flight_timeout_kills_a_hung_worker(media: MediaServer) -> None:
    """The actor starts with one warm worker; the hang takes it, the 2 s pass, it is killed
    and the member gets the timeout reason."""
    cfg = local_config(extractor={"timeout": 2.0, "workers": 1})
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=cfg, extra_extractors=[HangIE])
            with pytest.raises(ExtractionError) as hung:
                await x.extract(media.url("/hang"))
            pool = x.pool
            assert isinstance(pool, Pool)
            assert pool.live == {} and pool.killed == 1 and pool.started == 1
            nursery.cancel_scope.cancel()
    assert hung.value.reason is Reason.TIMEOUT


async def test_stopping_the_extractor_kills_its_workers(media: MediaServer) -> None:
    cfg = local_config(extractor={"workers": 2})
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=cfg, extra_extractors=[PidIE])
            result = await x.extract(media.url("/pid"))
            assert isinstance(result, SingleResult)
            pids = x.pool.pids() if x.pool else []
            assert len(pids) == 1 and alive(pids[0])
            nursery.cancel_scope.cancel()
    assert not alive(pids[0])


async def test_a_worker_never_sees_the_token(
    media: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "MTIz.secret-token-value.abc"
    monkeypatch.setenv("DISCORD_TOKEN", secret)
    monkeypatch.setenv("MUSICBOT_DISCORD_TOKEN", secret)
    assert secret not in repr(worker_env())
    with trio.fail_after(TIMEOUT):
        async with open_pool(1) as pool:
            reply = await pool.run(job(media.url("/pid")))
            environ = (await trio.Path(f"/proc/{pid_of(reply)}/environ").read_bytes()).decode()
    assert secret not in environ and "DISCORD" not in environ
    assert "PYTHONPATH=" in environ  # extractors and plugins importable here are there too


def test_a_local_class_cannot_cross_to_a_worker() -> None:
    class Local:
        pass

    with pytest.raises(ValueError, match="module level"):
        extractor_ref(Local)
    assert extractor_ref(PidIE) == "tests.extract.sites:PidIE"


async def test_workers_run_below_the_bots_cpu_priority(media: MediaServer) -> None:
    """Under CPU contention a worker yields to the process that paces audio."""
    with trio.fail_after(TIMEOUT):
        async with open_pool(1) as pool:
            reply = await pool.run(job(media.url("/pid")))
            pid = pid_of(reply)
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + WORKER_NICE)
