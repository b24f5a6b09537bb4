"""The connection pool hands out live connections without a `SELECT 1` per checkout."""

from __future__ import annotations

import time

import psycopg2.extensions

from app.core.db import database, run_in_transaction, run_without_transaction
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
