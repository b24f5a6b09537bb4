"""The SQL statements peewee runs, as a test sees them: peewee logs each at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def counted_statements() -> Iterator[list[object]]:
    """A list that collects every statement run inside the block (the pool's own messages
    are left out)."""
    statements: list[object] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "peewee":
                statements.append(record.msg)

    handler, logger = Collect(), logging.getLogger("peewee")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
