"""Hot queries compiled once: a peewee query's SQL generated once per process, then run with
new parameter values.

Building a peewee query and generating its SQL costs about as much Python as all the rest of a
simple request (0.5-0.8 ms for the 待办 list, bench/README.md). The few statements that run on
nearly every request (the nav badge, the unfiltered 待办 page) have a single shape, so their
SQL is made once, from the same builder the rest of the code uses, with a marker value in
place of each input; a call substitutes the inputs for the markers.

    PAGE = Compiled(lambda user: todo_query(user).limit(20), user=int)
    tasks = PAGE.rows(user=7)          # model instances, as list(query) would give
    rows = PAGE.records(Row, user=7)   # or plain rows of a NamedTuple (`records`)
    count = COUNT.scalar(user=7)

Only values that peewee passes through unchanged as parameters can be slots: integers here (a
marker must survive the field's conversion and be found again among the parameters); anything
built into the SQL text (a LIKE pattern, an IN list's length) cannot.

Every model's `save`/`create` and `get_by_id` (app.core.db.BaseModel) go through `save_row` and
`row_by_key`: their statements, too, are made once per model (and set of columns).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import peewee as pw
import psycopg2.extensions

from app.core.db import database, execute_prepared

R = TypeVar("R")
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

    def records(self, row_type: Callable[..., R], **values: int) -> list[R]:
        """The rows as `row_type(*columns)` (see `records`): for a list that only reads them."""
        return [row_type(*row) for row in self.execute(**values).fetchall()]

    def first(self, **values: int) -> Any:
        """The first row as `rows` gives it, or None."""
        rows = self.rows(**values)
        return rows[0] if rows else None

    def scalar(self, **values: int) -> Any:
        row = self.execute(**values).fetchone()
        return row[0] if row else None


_PLACEHOLDER = pw.SQL("%s")
_write_statements: dict[tuple[type, bool, tuple[str, ...]], str] = {}


def save_row(row: pw.Model, force_insert: bool) -> int | None:
    """peewee's Model.save for the common case (BaseModel.save): every field of the row
    written, a single-column primary key, plain values (no SQL expressions); the rows written,
    as peewee returns them. None, having done nothing, for any other case. The statement's
    text is made once per model and set of columns and runs prepared."""
    meta = row._meta
    key_field = meta.primary_key
    if key_field is False or meta.composite_key or meta.only_save_dirty:
        return None
    data = row.__data__.copy()
    if any(isinstance(value, pw.Node) for value in data.values()):
        return None
    row._populate_unsaved_relations(data)
    key = row._pk
    updating = key is not None and not force_insert
    if updating or (meta.auto_increment and key is None):
        data.pop(key_field.name, None)
    if not data:
        return None  # peewee raises its own error for an update with nothing to write
    names = tuple(field.name for field in meta.sorted_fields if field.name in data)  # as peewee
    if len(names) != len(data):
        return None
    values = [meta.fields[name].db_value(data[name]) for name in names]
    rows = 1
    if updating:
        rows = execute_prepared(_write_sql(type(row), True, names),
                                [*values, key_field.db_value(key)]).rowcount
    else:
        new_key = execute_prepared(_write_sql(type(row), False, names), values).fetchone()[0]
        if new_key is not None and (meta.auto_increment or key is None):
            row._pk = new_key
            row._dirty.discard(key_field.name)
    row._dirty -= set(names)
    return rows


def _write_sql(model: type[pw.Model], updating: bool, names: tuple[str, ...]) -> str:
    """The text of the INSERT (returning the key) or UPDATE (by key) peewee would run for these
    fields, with a placeholder for every value, made by peewee itself once."""
    known = _write_statements.get((model, updating, names))
    if known is None:
        columns = {model._meta.fields[name]: _PLACEHOLDER for name in names}
        query = (model.update(columns).where(model._meta.primary_key == _PLACEHOLDER) if updating
                 else model.insert(columns).returning(model._meta.primary_key))
        known, params = query.sql()
        if params or known.count("%s") != len(names) + updating:
            raise ValueError(f"unexpected statement for {model.__name__}: {known}")
        _write_statements[(model, updating, names)] = known
    return known


_BY_KEY: dict[tuple[type, bool], Compiled] = {}


def row_by_key(model: type[pw.Model], key: int, for_update: bool = False) -> Any:
    """The row of `model` with this integer primary key (locked FOR UPDATE if asked), or None:
    `get_by_id`'s statement, made once per model (BaseModel.get_by_id, the 公文 lookups)."""
    compiled = _BY_KEY.get((model, for_update))
    if compiled is None:
        def by_key(key: int) -> pw.ModelSelect:
            query = model.select().where(model._meta.primary_key == key)
            return query.for_update() if for_update else query

        compiled = _BY_KEY.setdefault((model, for_update), Compiled(by_key, key=int))
    return compiled.first(key=key)


def like_prefix(text: str) -> str:
    """A LIKE pattern for "starts with `text`", its wildcards and backslashes taken literally.
    Case-sensitive LIKE, not peewee's startswith (ILIKE): a text_pattern_ops index serves it."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


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


def records(row_type: Callable[..., R], query: pw.BaseQuery) -> list[R]:
    """The rows of `query` as `row_type(*columns)`, in the order of its SELECT, straight from
    the driver: no model object per row and no field conversion (psycopg2's integers, text and
    timestamps are what peewee's fields would give). For lists that only read their rows: a
    task and its instance as two joined model objects per row cost /api/todo 10 % of its
    application CPU, 已办 16 % (bench/README.md, finding 78)."""
    return [row_type(*row) for row in database.execute(query).fetchall()]


def paginated(query: pw.ModelSelect, page: int, per_page: int,
              fetch: Callable[[pw.ModelSelect], list[Any]] = list) -> tuple[list[Any], int]:
    """A page of `query` and the number of all its rows. The COUNT runs only when the page
    cannot tell: a page that is not full ends the list, so the rows before it and on it are
    all there are (a search with a few matches, a short 已办 list: one statement, one plan).

    Not `with_total`: the LIMIT of a page ordered along an index stops reading at the page's
    last row, while a window count reads every match (the address book: 2 ms against 0.6).
    `fetch` reads a query's rows: model objects by default, or `records` of a row type."""
    rows = fetch(query.paginate(page, per_page))
    if 0 < len(rows) < per_page or (page == 1 and not rows):
        return rows, (page - 1) * per_page + len(rows)
    return rows, query.count()


def total_of(rows: list[Any], query: pw.ModelSelect, page: int) -> int:
    """The total a page of `with_total(query)` carries; only a page past the end, having no
    row to carry it, costs a COUNT of its own."""
    if rows:
        return rows[0].total_rows
    return query.count() if page > 1 else 0
