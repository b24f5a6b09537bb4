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
from collections.abc import Callable
from typing import Any

from tornado.ioloop import PeriodicCallback

from app.core import db

log = logging.getLogger("oa.periodic")


def every(application: Any, seconds: float, fn: Callable[..., Any], *args: Any,
          name: str, transaction: bool = True) -> PeriodicCallback | None:
    """Run `fn(*args)` every `seconds` (±10 %) as a unit of work, or without a transaction
    (`transaction=False`, each statement its own; see db.run_statements)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    if db.database.obj is None:
        return None
    runner = db.unit_of_work if transaction else db.run_statements

    async def tick() -> None:
        try:
            await runner(fn, *args)
        except Exception:
            log.exception("%s failed", name)

    callback = PeriodicCallback(tick, seconds * 1000, jitter=0.1)
    callback.start()
    application.settings.setdefault("periodic", []).append(callback)
    return callback
