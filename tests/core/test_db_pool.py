"""The connection pool hands out live connections without a `SELECT 1` per checkout."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import peewee
import psycopg2.extensions
import pytest

from app.core.db import DatabaseThreads, database, run_in_transaction, run_without_transaction
from tests.support.aio import run_in_own_loop
from tests.support.audit import chain_audit_trail
from tests.support.database import TestDatabase

_POOLED = ("SELECT pid, query, state_change::text FROM pg_stat_activity "
           "WHERE application_name = 'oa-platform' AND datname = current_database() "
           "ORDER BY pid")


def _backend_pid() -> int:
    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def _pooled(cur: psycopg2.extensions.cursor) -> list[tuple]:
    cur.execute(_POOLED)
    return cur.fetchall()


def _alive(cur: psycopg2.extensions.cursor, pids: list[int]) -> bool:
    return any(row[0] in pids for row in _pooled(cur))


def test_terminated_backends_are_discarded_at_checkout(db: TestDatabase) -> None:
    first = run_in_transaction(_backend_pid)
    conn = db.superuser()  # autocommit, no `with`: pg_stat_activity is read anew each time
    with conn.cursor() as cur:
        pids = [row[0] for row in _pooled(cur)]
        assert first in pids
        cur.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", (pids,))
        deadline = time.monotonic() + 10
        while _alive(cur, pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(cur, pids)
    conn.close()
    # every pooled connection is dead; the next unit of work still gets a working one
    assert run_in_transaction(_backend_pid) not in pids


def test_checkout_of_a_live_connection_sends_nothing(db: TestDatabase) -> None:
    run_in_transaction(_backend_pid)
    conn = db.superuser()
    with conn.cursor() as cur:
        before = _pooled(cur)
        for _ in range(5):
            assert run_without_transaction(lambda: None) is None
        after = _pooled(cur)
    conn.close()
    assert before and after == before  # no ping, no BEGIN/COMMIT reached any backend


@contextlib.contextmanager
def _sent_from_this_thread() -> Iterator[list[str]]:
    """The SQL this thread sends meanwhile (not a live server's background pass, in its own
    thread), as peewee's query hooks see it."""
    sent: list[str] = []
    caller = threading.get_ident()

    def hook(event: peewee.QueryEvent) -> None:
        if threading.get_ident() == caller:
            sent.append(event.sql)

    database.obj.query_hooks.append(hook)
    try:
        yield sent
    finally:
        database.obj.query_hooks.remove(hook)


def test_begin_travels_with_the_first_statement(db: TestDatabase) -> None:
    with _sent_from_this_thread() as sent:
        def unit() -> tuple:
            first = database.execute_sql("SELECT txid_current_if_assigned()").fetchone()[0]
            database.execute_sql("CREATE TEMP TABLE probe (n int) ON COMMIT DROP")
            with database.atomic():  # a savepoint inside the transaction
                database.execute_sql("INSERT INTO probe VALUES (1)")
            return first, database.execute_sql("SELECT count(*) FROM probe").fetchone()[0]

        assert run_in_transaction(unit) == (None, 1)
        assert sent[0] == "BEGIN;SELECT txid_current_if_assigned()"
        assert not any(s.startswith("BEGIN") for s in sent[1:])
        sent.clear()
        assert run_in_transaction(lambda: None) is None  # nothing to begin or end
        assert sent == []


def test_a_failed_first_statement_leaves_the_connection_usable(db: TestDatabase) -> None:
    def failing() -> None:
        database.execute_sql("SELECT no_such_column FROM app_user")

    with pytest.raises(peewee.ProgrammingError, match="no_such_column"):
        run_in_transaction(failing)
    status = run_in_transaction(lambda: (database.execute_sql("SELECT 1").fetchone()[0],
                                         database.connection().info.transaction_status))
    assert status == (1, psycopg2.extensions.TRANSACTION_STATUS_INTRANS)


# ---- deferred statements: sent with the next statement or the COMMIT ---------------------------
_PROBE = "CREATE TEMP TABLE probe (note text) ON COMMIT DROP"


def _audited(request_id: str) -> list[tuple]:
    """The committed events of this request, as an auditor's read sees them (chained first)."""
    chain_audit_trail()
    return run_in_transaction(lambda: database.execute_sql(
        "SELECT action, details::text FROM audit_event WHERE request_id = %s",
        (request_id,)).fetchall())


def _audit(request_id: str, note: str = "") -> None:
    from app.audit.service import record
    from app.core.context import RequestContext

    record(RequestContext(principal=None, request_id=request_id), "probe.deferred",
           details={"note": note})


def test_a_deferred_statement_keeps_its_place_before_the_next_one(db: TestDatabase) -> None:
    def unit() -> int:
        database.execute_sql(_PROBE)
        with database.connection().cursor() as cursor:
            database.obj.defer(cursor.mogrify("INSERT INTO probe VALUES (%s)",
                                              ["50% done"]).decode())
        # the statement after it has parameters of its own: the % of the deferred text holds
        return database.execute_sql("SELECT count(*) FROM probe WHERE note LIKE %s",
                                    ["50%%"]).fetchone()[0]

    assert run_in_transaction(unit) == 1


def test_the_audit_insert_goes_out_with_the_commit(db: TestDatabase) -> None:
    with _sent_from_this_thread() as sent:
        run_in_transaction(lambda: (database.execute_sql("SELECT 1"), _audit("req-commit-1",
                                                                              "100% 完成")))
    # (the connection's first audit event PREPAREs the INSERT; it is executed with the COMMIT)
    assert sent[0].endswith("SELECT 1")
    assert not [s for s in sent[1:] if not s.startswith("PREPARE ")]
    assert _audited("req-commit-1") == [("probe.deferred", '{"note": "100% 完成"}')]


def test_deferred_statements_roll_back_with_their_transaction_or_savepoint(
        db: TestDatabase) -> None:
    def failing() -> None:
        _audit("req-rolled-back")
        raise LookupError("办理失败")

    with pytest.raises(LookupError):
        run_in_transaction(failing)

    def savepoint_undone() -> None:
        _audit("req-kept")
        try:
            with database.atomic():
                _audit("req-savepoint")
                raise LookupError("子步骤失败")
        except LookupError:
            pass

    run_in_transaction(savepoint_undone)
    assert _audited("req-rolled-back") == []
    assert _audited("req-savepoint") == []
    assert len(_audited("req-kept")) == 1
    assert run_in_transaction(lambda: database.execute_sql("SELECT 2").fetchone()[0]) == 2


def test_outside_a_transaction_a_deferred_statement_runs_at_once(db: TestDatabase) -> None:
    run_without_transaction(_audit, "req-autocommit")
    assert len(_audited("req-autocommit")) == 1
    with pytest.raises(RuntimeError, match="事务"):
        run_without_transaction(database.obj.defer, "SELECT 1")


def test_a_deferred_statement_that_fails_fails_the_commit(db: TestDatabase) -> None:
    def unit() -> None:
        database.execute_sql(_PROBE)
        database.obj.defer("INSERT INTO probe VALUES (1/0)")

    with pytest.raises(peewee.DataError, match="division by zero"):
        run_in_transaction(unit)
    assert run_in_transaction(lambda: database.execute_sql("SELECT 3").fetchone()[0]) == 3


# ---- a database thread keeps its connection between units of work -----------------------------
def _on_database_thread(threads: DatabaseThreads, fn: Callable[[], Any]) -> Any:
    return run_in_own_loop(lambda: threads.submit(functools.partial(run_without_transaction, fn)))


def test_a_database_thread_keeps_its_connection_and_gives_it_back(db: TestDatabase) -> None:
    threads = DatabaseThreads(1)
    try:
        first = _on_database_thread(threads, _backend_pid)
        in_use = len(database.obj._in_use)
        assert _on_database_thread(threads, _backend_pid) == first
        assert run_in_transaction(_backend_pid) != first  # not in the pool meanwhile
    finally:
        threads.shutdown(wait=True)
    assert len(database.obj._in_use) == in_use - 1  # back in the pool when the thread stopped


def test_a_kept_connection_that_died_or_grew_stale_is_replaced(
        db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    threads = DatabaseThreads(1)
    try:
        first = _on_database_thread(threads, _backend_pid)
        conn = db.superuser()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (first,))
            deadline = time.monotonic() + 10
            while _alive(cur, [first]) and time.monotonic() < deadline:
                time.sleep(0.05)
        conn.close()
        second = _on_database_thread(threads, _backend_pid)
        assert second != first
        monkeypatch.setattr(database.obj, "_stale_timeout", 0.01)
        time.sleep(0.05)
        assert _on_database_thread(threads, _backend_pid) != second
    finally:
        threads.shutdown(wait=True)
