"""Reference data a web worker keeps between requests while its generation stamp holds.

The department tree or the list of published flows is read on most requests and changes a few
times a year. Each such topic has a stamp in `cache_generation` that a statement-level trigger
on its tables replaces with a fresh random value on every change (core schema 0001). `Kept`
reads the stamp, one indexed row, in the caller's transaction and returns what it loaded under
that stamp, or loads again.

Why this stays correct: the stamp is read before the data, so kept data is never older than
its stamp (at worst newer, which costs one extra load); a transaction that changes the data
sees its own new stamp (a unit reads a stamp once only until it writes: `unit_reads`), and if
it rolls back that stamp never becomes current; a topic whose row is missing (a table emptied
with triggers off) is never kept. Kept values are shared by every thread of the process:
callers must treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from app.core.db import database, execute_prepared

T = TypeVar("T")

_STAMP_SQL = "SELECT stamp FROM cache_generation WHERE topic = %s"


def current_stamp(topic: str) -> object | None:
    """The topic's stamp as the caller's unit of work sees it (None: not kept): read once per
    unit while the unit writes nothing (`unit_reads`), since a unit asks for the department
    tree or the flows many times (submitting a 稿纸: eight times; finding 55)."""
    known = database.obj.unit_reads()
    if (_STAMP_SQL, topic) in known:
        return known[_STAMP_SQL, topic]
    row = execute_prepared(_STAMP_SQL, (topic,)).fetchone()
    stamp = row[0] if row else None
    # asked for again after the statement: a connection's first PREPARE empties the memo
    database.obj.unit_reads()[_STAMP_SQL, topic] = stamp
    return stamp


class Kept(Generic[T]):
    """`load()`'s value, kept per process under the topic's stamp; `get()` inside a unit of
    work."""

    def __init__(self, topic: str, load: Callable[[], T]) -> None:
        self.topic = topic
        self._load = load
        self._kept: tuple[object, T] | None = None

    def get(self) -> T:
        stamp = current_stamp(self.topic)
        kept = self._kept  # one read: another thread may replace it meanwhile
        if stamp is not None and kept is not None and kept[0] == stamp:
            return kept[1]
        value = self._load()
        if stamp is not None:
            self._kept = (stamp, value)
        return value
