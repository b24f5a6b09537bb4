"""A unit of work reads a generation stamp once while it only reads (app.core.db unit_reads),
and sees its own writes, a rolled-back savepoint and other units' commits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.core.db import database, run_in_transaction, run_without_transaction
from app.core.generation import current_stamp
from tests.support.statements import counted_statements

TOUCH_DEPARTMENTS = "UPDATE department SET name = name WHERE false"  # the trigger still bumps


def _stamps(unit: Callable[[], list[object]]) -> tuple[list[object], int]:
    with counted_statements() as statements:
        seen = run_in_transaction(unit)
    return seen, len(statements)


def test_a_stamp_is_read_once_while_the_unit_only_reads(db) -> None:
    run_in_transaction(database.execute_sql, TOUCH_DEPARTMENTS)  # the topic has a stamp

    def reads() -> list[object]:
        current_stamp("org")  # a first use on this connection also prepares the statement
        database.execute_sql("SELECT 1")
        return [current_stamp("org") for _ in range(5)]

    seen, statements = _stamps(reads)
    assert len(set(seen)) == 1 and seen[0] is not None
    assert statements <= 3  # (PREPARE,) EXECUTE, SELECT 1: never one per call


def test_a_unit_sees_the_stamp_its_own_write_made(db) -> None:
    def write_between() -> list[object]:
        before = current_stamp("org")
        database.execute_sql(TOUCH_DEPARTMENTS)
        return [before, current_stamp("org"), current_stamp("org")]

    before, after, again = run_in_transaction(write_between)
    assert before != after == again


def test_a_rolled_back_savepoint_brings_the_old_stamp_back(db) -> None:
    def savepoint() -> list[object]:
        before = current_stamp("org")
        with pytest.raises(RuntimeError), database.atomic():
            database.execute_sql(TOUCH_DEPARTMENTS)
            inside = current_stamp("org")
            raise RuntimeError("roll back to the savepoint")
        return [before, inside, current_stamp("org")]

    before, inside, after = run_in_transaction(savepoint)
    assert inside != before == after


def test_each_unit_reads_afresh(db) -> None:
    first = run_without_transaction(current_stamp, "org")
    run_in_transaction(database.execute_sql, TOUCH_DEPARTMENTS)
    assert run_without_transaction(current_stamp, "org") != first
    assert run_in_transaction(current_stamp, "org") == run_without_transaction(
        current_stamp, "org")
