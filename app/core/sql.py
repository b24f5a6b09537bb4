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

Only values that peewee passes through unchanged as parameters can be slots: integers here (a
marker must survive the field's conversion and be found again among the parameters); anything
built into the SQL text (a LIKE pattern, an IN list's length) cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw
import psycopg2.extensions

from app.core.db import database, execute_prepared

_MARKER_BASE = -(2**62)  # no real id, count or offset is near it


class Compiled:
    """One query shape: `build(**markers)` returns the peewee query; it is built on first use
    (the database must be bound) and its SQL reused for every later call.

    Every parameter that is not a slot (a status code, the page size) is written into the SQL
    as a literal: the statement runs prepared (db.execute_prepared), and PostgreSQL keeps one
    generic plan for it only when the values that decide the plan's shape are in its text
    (with them as parameters it measured custom plans, i.e. planning on every execution)."""

    def __init__(self, build: Callable[..., pw.BaseQuery], **slots: type) -> None:
        unsupported = [name for name, kind in slots.items() if kind is not int]
        if unsupported:
            raise TypeError(f"only integer slots are supported: {unsupported}")
        self._build = build
        self._slots = list(slots)
        self._compiled: tuple[pw.BaseQuery, str, list[str]] | None = None
        self._row_plan: dict[str, Any] | None = None

    def _compile(self) -> tuple[pw.BaseQuery, str, list[str]]:
        if self._compiled is None:
            markers = {_MARKER_BASE - n: name for n, name in enumerate(self._slots)}
            query = self._build(**{name: marker for marker, name in markers.items()})
            sql, params = query.sql()
            parts = sql.split("%s")
            text, order = [parts[0]], []
            for value, rest in zip(params, parts[1:], strict=True):
                if type(value) is int and value in markers:
                    order.append(markers[value])
                    text.append("%s")
                else:
                    text.append(_literal(value))
                text.append(rest)
            lost = sorted(set(self._slots) - set(order))
            if lost:
                raise ValueError(f"slots not found among the query's parameters: {lost}")
            self._compiled = (query, "".join(text), order)
        return self._compiled

    def execute(self, **values: int) -> Any:
        """The cursor of the statement run with `values` for the slots."""
        _, sql, order = self._compile()
        return execute_prepared(sql, [values[name] for name in order])

    def rows(self, **values: int) -> list[Any]:
        """What iterating the built query would give (model instances, joined models set),
        read through the query's own cursor wrapper.

        The wrapper's set-up (which column goes to which model and field, through which
        converter) depends only on the statement, so it is done for the first call and
        handed to the wrappers of later ones: for the 待办 page it cost as much as building
        the twenty rows (bench/README.md, finding 36)."""
        query = self._compile()[0]
        # peewee's own row building (private, pinned version; tests/core/test_sql.py)
        wrapper = query._get_cursor_wrapper(self.execute(**values))
        plan = self._row_plan
        if plan is not None:
            wrapper.__dict__.update(plan)
            wrapper.initialized = True
            return list(wrapper)
        before = set(vars(wrapper))
        rows = list(wrapper)
        if wrapper.initialized:  # a first call that returned no row set nothing up
            self._row_plan = {k: v for k, v in vars(wrapper).items() if k not in before}
        return rows

    def first(self, **values: int) -> Any:
        """The first row as `rows` gives it, or None."""
        rows = self.rows(**values)
        return rows[0] if rows else None

    def scalar(self, **values: int) -> Any:
        row = self.execute(**values).fetchone()
        return row[0] if row else None


_BY_KEY: dict[type, Compiled] = {}


def row_by_key(model: type[pw.Model], key: int) -> Any:
    """The row of `model` with this integer primary key, or None: `get_by_id`'s statement,
    made once per model (BaseModel.get_by_id)."""
    compiled = _BY_KEY.get(model)
    if compiled is None:
        compiled = _BY_KEY.setdefault(model, Compiled(
            lambda key: model.select().where(model._meta.primary_key == key), key=int))
    return compiled.first(key=key)


def _literal(value: Any) -> str:
    """A parameter as SQL text, quoted by psycopg2 for this connection; % doubled, since the
    statement text goes through psycopg2's formatting once more."""
    adapted = psycopg2.extensions.adapt(value)
    if hasattr(adapted, "prepare"):
        adapted.prepare(database.connection())
    return adapted.getquoted().decode().replace("%", "%%")


def count_of(query: pw.SelectBase) -> pw.Select:
    """The statement peewee's `query.count()` runs (SelectBase.count), as a query of its own
    to compile."""
    clone = query.order_by().alias("_wrapped")
    if clone._count_can_project_one():  # as SelectBase.count decides
        clone = clone.select(pw.SQL("1"))
    return pw.Select([clone], [pw.fn.COUNT(pw.SQL("1"))]).bind(database)


def with_total(query: pw.ModelSelect) -> pw.ModelSelect:
    """`query` with the number of all its rows on each row (`total_rows`, count(*) over ()):
    a page and the total in one statement instead of a COUNT and a page."""
    return query.select_extend(pw.fn.COUNT(pw.SQL("*")).over().alias("total_rows"))


def paginated(query: pw.ModelSelect, page: int, per_page: int) -> tuple[list[Any], int]:
    """A page of `query` and the number of all its rows. The COUNT runs only when the page
    cannot tell: a page that is not full ends the list, so the rows before it and on it are
    all there are (a search with a few matches, a short 已办 list: one statement, one plan).

    Not `with_total`: the LIMIT of a page ordered along an index stops reading at the page's
    last row, while a window count reads every match (the address book: 2 ms against 0.6)."""
    rows = list(query.paginate(page, per_page))
    if 0 < len(rows) < per_page or (page == 1 and not rows):
        return rows, (page - 1) * per_page + len(rows)
    return rows, query.count()


def total_of(rows: list[Any], query: pw.ModelSelect, page: int) -> int:
    """The total a page of `with_total(query)` carries; only a page past the end, having no
    row to carry it, costs a COUNT of its own."""
    if rows:
        return rows[0].total_rows
    return query.count() if page > 1 else 0
