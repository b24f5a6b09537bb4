"""The threads that run units of work hand results, errors and the caller's context back to
the awaiting coroutine, and stop only after the calls already queued; CPU-heavy work runs on
threads of its own, below the pages' priority."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time

import pytest

from app.core import db
from app.core.config import settings
from app.core.db import DatabaseThreads
from tests.support.aio import run_in_own_loop
from tests.support.database import TestDatabase

_request = contextvars.ContextVar("request", default="-")


def test_a_call_runs_on_a_pool_thread_and_returns_its_value() -> None:
    threads = DatabaseThreads(2, name="probe")
    try:
        name = run_in_own_loop(lambda: threads.submit(lambda: threading.current_thread().name))
    finally:
        threads.shutdown(wait=True)
    assert name.startswith("probe_")


def test_the_callers_context_travels_with_the_call() -> None:
    threads = DatabaseThreads(1)

    async def main() -> tuple[str, str]:
        _request.set("req-42")
        seen = await threads.submit(_request.get)
        _request.set("req-43")  # a later change of the caller's is not the earlier call's
        return seen, await threads.submit(_request.get)

    try:
        assert run_in_own_loop(main) == ("req-42", "req-43")
    finally:
        threads.shutdown(wait=True)


def test_errors_reach_the_caller_as_raised() -> None:
    threads = DatabaseThreads(1)

    def fail() -> None:
        raise LookupError("没有这条记录")

    def stop() -> None:
        raise StopIteration

    try:
        with pytest.raises(LookupError, match="没有这条记录"):
            run_in_own_loop(lambda: threads.submit(fail))
        with pytest.raises(RuntimeError, match="StopIteration"):
            run_in_own_loop(lambda: threads.submit(stop))
        assert run_in_own_loop(lambda: threads.submit(lambda: 7)) == 7  # the thread lives on
    finally:
        threads.shutdown(wait=True)


def test_many_concurrent_calls_each_get_their_own_result() -> None:
    threads = DatabaseThreads(4)

    async def main() -> list[int]:
        return await asyncio.gather(*[threads.submit(lambda n=n: n * n) for n in range(200)])

    try:
        assert run_in_own_loop(main) == [n * n for n in range(200)]
    finally:
        threads.shutdown(wait=True)


def test_a_cancelled_caller_does_not_break_the_thread() -> None:
    threads = DatabaseThreads(1)
    started = threading.Event()

    async def main() -> int:
        slow = threads.submit(lambda: (started.set(), time.sleep(0.2)))
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        slow.cancel()
        return await threads.submit(lambda: 5)

    try:
        assert run_in_own_loop(main) == 5
    finally:
        threads.shutdown(wait=True)


def test_shutdown_finishes_the_queued_calls_then_refuses_new_ones() -> None:
    threads = DatabaseThreads(1)
    done: list[int] = []

    async def main() -> None:
        for n in range(3):
            threads.submit(lambda n=n: (time.sleep(0.02), done.append(n)))
        threads.shutdown(wait=True)
        with pytest.raises(RuntimeError, match="已关闭"):
            threads.submit(lambda: None)

    run_in_own_loop(main)
    assert done == [0, 1, 2]


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_cpu_heavy_work_leaves_the_database_threads_to_the_pages(pg: TestDatabase) -> None:
    """A wave of sign-ins (Argon2 through run_blocking) outnumbering the database threads
    must not hold up a page's unit of work."""
    release = threading.Event()

    async def main() -> int:
        hashing = [asyncio.ensure_future(db.run_blocking(release.wait, 10))
                   for _ in range(settings().db_threads + 1)]
        try:
            return await asyncio.wait_for(db.unit_of_work(
                lambda: db.database.execute_sql("SELECT 1").fetchone()[0]), 5)
        finally:
            release.set()
            await asyncio.gather(*hashing)

    assert run_in_own_loop(main) == 1


def test_cpu_heavy_work_and_the_threads_it_starts_yield_to_the_pages(pg: TestDatabase) -> None:
    """Argon2 runs its lanes on threads of its own: they inherit the lower priority."""

    def niceness_and_its_lanes() -> tuple[int, int]:
        seen: list[int] = []
        lane = threading.Thread(target=lambda: seen.append(_own_niceness()))
        lane.start()
        lane.join()
        return _own_niceness(), seen[0]

    page = run_in_own_loop(lambda: db.run_statements(_own_niceness))
    work, lane = run_in_own_loop(lambda: db.run_blocking(niceness_and_its_lanes))
    assert work == lane == min(19, page + db.CPU_WORK_NICENESS) > page
