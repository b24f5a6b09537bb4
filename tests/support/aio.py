"""Running a coroutine from a test, whatever the test thread already has running."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any


def run_in_own_loop(awaitable_factory: Callable[[], Awaitable[Any]]) -> Any:
    """Await what the factory returns on a new event loop in a thread of its own: the browser
    tests' Playwright keeps an event loop running in the main thread for the whole session,
    where `asyncio.run` refuses to start another."""
    outcome: dict[str, Any] = {}

    async def main() -> Any:
        return await awaitable_factory()

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="test-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
