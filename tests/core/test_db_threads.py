"""The threads that run units of work hand results, errors and the caller's context back to
the awaiting coroutine, and stop only after the calls already queued."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from app.core.db import DatabaseThreads
from tests.support.aio import run_in_own_loop

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
