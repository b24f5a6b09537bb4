"""Hot queries compiled once: a peewee query's SQL generated once per process, then run with
new parameter values.

Building a peewee query and generating its SQL costs about as much Python as all the rest of a
simple request (0.5-0.8 ms for the 待办 list, bench/README.md). The few statements that run on
nearly every request (the nav badge, the unfiltered 待办 page) have a single shape, so their
SQL is made once, from the same builder the rest of the code uses, with a marker value in
place of each input; a call substitutes the inputs for the markers.

    PAGE = Compiled(lambda user: todo_query(user).limit(20), user=int)
    tasks = PAGE.rows(user=7)          # model instances, as list(query) would give
    count = COUNT.scalar(user=7)

Only values that peewee passes through unchanged as parameters can be slots: integers and
booleans here (a marker must survive the field's conversion and be found again among the
parameters); anything built into the SQL text (a LIKE pattern, an IN list's length) cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw

from app.core.db import database

_MARKER_BASE = -(2**62)  # no real id, count or offset is near it


class Compiled:
    """One query shape: `build(**markers)` returns the peewee query; it is built on first use
    (the database must be bound) and its SQL reused for every later call."""

    def __init__(self, build: Callable[..., pw.BaseQuery], **slots: type) -> None:
        unsupported = [name for name, kind in slots.items() if kind is not int]
        if unsupported:
            raise TypeError(f"only integer slots are supported: {unsupported}")
        self._build = build
        self._slots = list(slots)
        self._compiled: tuple[pw.BaseQuery, str, list[Any], dict[str, list[int]]] | None = None

    def _compile(self) -> tuple[pw.BaseQuery, str, list[Any], dict[str, list[int]]]:
        if self._compiled is None:
            markers = {name: _MARKER_BASE - n for n, name in enumerate(self._slots)}
            query = self._build(**markers)
            sql, params = query.sql()
            positions = {name: [i for i, value in enumerate(params)
                                if type(value) is int and value == marker]
                         for name, marker in markers.items()}
            lost = [name for name, found in positions.items() if not found]
            if lost:
                raise ValueError(f"slots not found among the query's parameters: {lost}")
            self._compiled = (query, sql, list(params), positions)
        return self._compiled

    def execute(self, **values: int) -> Any:
        """The cursor of the statement run with `values` for the slots."""
        _, sql, template, positions = self._compile()
        params = list(template)
        for name, indexes in positions.items():
            value = values[name]
            for index in indexes:
                params[index] = value
        return database.execute_sql(sql, params)

    def rows(self, **values: int) -> list[Any]:
        """What iterating the built query would give (model instances, joined models set),
        read through the query's own cursor wrapper."""
        query = self._compile()[0]
        # peewee's own row building (private, pinned version; tests/core/test_sql.py)
        return list(query._get_cursor_wrapper(self.execute(**values)))

    def scalar(self, **values: int) -> Any:
        row = self.execute(**values).fetchone()
        return row[0] if row else None


def count_of(query: pw.SelectBase) -> pw.Select:
    """The statement peewee's `query.count()` runs (SelectBase.count), as a query of its own
    to compile."""
    clone = query.order_by().alias("_wrapped")
    if clone._count_can_project_one():  # as SelectBase.count decides
        clone = clone.select(pw.SQL("1"))
    return pw.Select([clone], [pw.fn.COUNT(pw.SQL("1"))]).bind(database)
