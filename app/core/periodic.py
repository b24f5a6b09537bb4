"""Background passes of a web worker: a blocking function run every few seconds on the database
thread pool, never on the IOLoop.

    every(application, 300, deadline_pass, name="workflow deadline pass")

Only where the application is being served (an IOLoop is running and the database is bound);
in a CLI or a test's application fixture nothing is scheduled. A failed pass is logged and
tried again at the next tick. With several worker processes each runs its own; the function
decides who works (an advisory lock, SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.ioloop import PeriodicCallback

from app.core import db

log = logging.getLogger("oa.periodic")


# How a pass runs on the database thread pool: as one unit of work, statement by statement
# (db.run_statements), or as plain blocking code that opens its own transactions.
RUNNERS: dict[str, Callable[..., Awaitable[Any]]] = {
    "transaction": db.unit_of_work, "statements": db.run_statements, "own": db.run_blocking}


def every(application: Any, seconds: float, fn: Callable[..., Any], *args: Any, name: str,
          mode: str = "transaction",
          only_if: Callable[[], bool] | None = None) -> PeriodicCallback | None:
    """Run `fn(*args)` every `seconds` (±10 %) the way `mode` names (see RUNNERS); `only_if`,
    when given, is a cheap check on the IOLoop that skips a tick with nothing to do."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    if db.database.obj is None:
        return None
    runner = RUNNERS[mode]

    async def tick() -> None:
        if only_if is not None and not only_if():
            return
        try:
            await runner(fn, *args)
        except Exception:
            log.exception("%s failed", name)

    callback = PeriodicCallback(tick, seconds * 1000, jitter=0.1)
    callback.start()
    application.settings.setdefault("periodic", []).append(callback)
    return callback
