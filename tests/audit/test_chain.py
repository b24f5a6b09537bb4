"""The trail is one unbroken hash chain, append-only for everyone, and tampering is found."""

from __future__ import annotations

import itertools
import threading
import time

import psycopg2
import pytest
from typer.testing import CliRunner

from app.audit.chain import verify_chain
from app.audit.service import chain_pending, record
from app.core.config import settings
from app.core.context import RequestContext
from app.core.db import (
    close_database,
    connect_params,
    database,
    init_database,
    run_in_transaction,
)
from tests.audit.helpers import context, stored_rows, write

GENESIS = "0" * 64


def verify():
    return run_in_transaction(verify_chain, batch_size=7)


def test_concurrent_transactions_build_one_unbroken_chain(db):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        ctx = context(user_id=n, username=f"user{n}", name=f"用户{n}")
        try:
            for i in range(12):
                def unit(i: int = i) -> None:
                    record(ctx, "test.first", object_type="thing", object_id=i)
                    time.sleep(0.002)  # let the other transactions interleave
                    record(ctx, "test.second", details={"n": n, "i": i})
                run_in_transaction(unit)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # a commit that found the chain head taken left its events pending for the next chainer
    run_in_transaction(chain_pending)

    rows = stored_rows()
    assert [r[0] for r in rows] == list(range(1, 6 * 12 * 2 + 1))
    assert rows[0][1] == GENESIS
    for previous, current in itertools.pairwise(rows):
        assert current[1] == previous[2]
    # every event exactly once, and each transaction's first event before its second
    events = run_in_transaction(lambda: database.execute_sql(
        "SELECT id, actor_username, action, coalesce(object_id, details->>'i') FROM audit_event"
    ).fetchall())
    position = {(user, action, int(i)): event_id for event_id, user, action, i in events}
    assert len(position) == len(events) == 6 * 12 * 2
    for n, i in itertools.product(range(6), range(12)):
        assert position[(f"user{n}", "test.first", i)] < position[(f"user{n}", "test.second", i)]
    result = verify()
    assert result.ok and result.checked == len(rows)


def test_more_than_a_batch_chains_in_writing_order_and_verifies(db):
    """audit_chain_pending moves 1000 events per call (written with one INSERT): 2345 events,
    some with no actor and no object, some with multi-byte text, chain in three calls."""
    anonymous = RequestContext(principal=None, ip="", request_id="", user_agent="")

    def unit() -> None:
        for n in range(2345):
            if n % 3 == 0:
                record(anonymous, "test.anonymous")
            else:
                record(context(user_id=n, name=f"用户{n}"), "test.named", object_type="文件",
                       object_id=n, details={"说明": "审计" * (n % 7), "n": n})

    run_in_transaction(unit)
    assert run_in_transaction(chain_pending) == 2345
    rows = stored_rows()
    assert [r[0] for r in rows] == list(range(1, 2346))
    for previous, current in itertools.pairwise(rows):
        assert current[1] == previous[2]
    numbers = run_in_transaction(lambda: database.execute_sql(
        "SELECT coalesce((details->>'n')::int, -1) FROM audit_event ORDER BY id").fetchall())
    named = [n for (n,) in numbers if n >= 0]
    assert named == sorted(named) and len(named) == 2345 - 782
    result = verify()
    assert result.ok and result.checked == 2345


@pytest.mark.parametrize("holder_ends", ["commit", "rollback"])
def test_a_commit_never_waits_for_the_chain_head(db, holder_ends):
    """A transaction holding the head (here: one that chained its own event and has not yet
    committed) does not hold up other commits, nor a pass that finds the head taken: their
    events wait, committed, and are chained by the next pass of `chain_pending`."""
    write(context(), "test.before")
    holder = psycopg2.connect(**connect_params(db.runtime_url))
    try:
        with holder.cursor() as cur:
            cur.execute("INSERT INTO audit_event_pending (action, outcome)"
                        " VALUES ('test.holder', 'success')")
            cur.execute("SELECT audit_chain_pending(true)")  # holds the head until it ends
        done = threading.Event()
        writer = threading.Thread(target=lambda: (write(context(), "test.while_held"),
                                                  done.set()))
        writer.start()
        writer.join(5)
        assert done.is_set(), "the commit waited for the chain head"
        assert [r[3] for r in stored_rows()] == ["test.before"]
        assert run_in_transaction(_pending_count) == 1
        getattr(holder, holder_ends)()
    finally:
        holder.close()
    if holder_ends == "commit":  # the holder's own event, then the one that waited
        assert [r[3] for r in stored_rows()] == ["test.before", "test.holder", "test.while_held"]
    else:
        assert run_in_transaction(chain_pending) == 1
        assert [r[3] for r in stored_rows()] == ["test.before", "test.while_held"]
    assert run_in_transaction(_pending_count) == 0
    assert verify().ok


def _pending_count() -> int:
    return database.execute_sql("SELECT count(*) FROM audit_event_pending").fetchone()[0]


def test_rolled_back_work_leaves_no_event(db):
    def failing() -> None:
        record(context(), "test.rolled_back")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_in_transaction(failing)
    write(context(), "test.kept")
    assert [r[3] for r in stored_rows()] == ["test.kept"]
    assert verify().ok


def test_details_round_trip_exactly(db):
    tricky = {
        "z": 1, "a": [0.1, 1.0, 1e-7, 12345678901234567890, -0.0, True, None],
        "中文键": "带\"引号\"、换行\n和表情😀", "nested": {"b": {"y": 2.5, "x": "\\"}},
        "nan": float("nan"), "inf": float("inf"), "nul": "a\x00b", "tuple": (1, 2),
        "": "empty key", "long_key_" * 3: "k",
    }
    write(context(), "test.tricky", details=tricky, object_id="对象/1")
    write(context(username="", name=""), "test.empty", details={})
    assert verify().ok


def test_runtime_role_cannot_change_or_remove_events(db):
    write(context(), "test.protected")
    conn = psycopg2.connect(**connect_params(db.runtime_url))
    conn.autocommit = True
    try:
        for statement in ("UPDATE audit_event SET action = 'x'",
                          "DELETE FROM audit_event",
                          "TRUNCATE audit_event",
                          "UPDATE audit_chain SET last_id = 0",
                          "DELETE FROM audit_event_pending",
                          "UPDATE audit_event_pending SET action = 'x'",
                          "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
                          # events enter only through audit_event_pending, to be chained
                          "INSERT INTO audit_event (id, occurred_at, action, outcome, prev_hash,"
                          " hash) VALUES (2, now(), 'test.direct', 'success', 'x', 'y')"):
            with conn.cursor() as cur, pytest.raises(psycopg2.Error):
                cur.execute(statement)
    finally:
        conn.close()
    rows = stored_rows()
    assert [r[0] for r in rows] == [1] and rows[0][3] == "test.protected"
    assert verify().ok


def test_owner_cannot_update_delete_or_truncate_either(db):
    write(context(), "test.protected")
    conn = psycopg2.connect(**connect_params(db.owner_url))
    conn.autocommit = True
    try:
        for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event",
                          "TRUNCATE audit_event"):
            with conn.cursor() as cur, pytest.raises(psycopg2.Error, match="只允许追加"):
                cur.execute(statement)
    finally:
        conn.close()
    assert len(stored_rows()) == 1


def _as_superuser(db, *statements: str) -> None:
    conn = db.superuser()
    try:
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # triggers off
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _write_events(count: int) -> None:
    for n in range(count):
        write(context(user_id=n + 1, username=f"user{n}"), "test.event", details={"n": n})


def test_edited_row_is_named_by_verify(db):
    _write_events(10)
    assert verify().ok
    _as_superuser(db, """UPDATE audit_event SET details = '{"n": 99}' WHERE id = 6""")
    result = verify()
    assert not result.ok
    assert (result.first_bad_id, result.reason) == (6, "content")
    assert result.checked == 5
    assert "6" in result.message


def test_rehashed_row_breaks_the_next_link(db):
    _write_events(5)
    _as_superuser(db, "UPDATE audit_event SET hash = repeat('a', 64) WHERE id = 3")
    result = verify()
    assert (result.first_bad_id, result.reason) == (3, "content")
    _as_superuser(db, "UPDATE audit_event SET action = 'test.other' WHERE id = 3")
    # even a forger who recomputes row 3's hash breaks row 4's link
    from app.audit.chain import row_hash

    row = run_in_transaction(_row, 3)
    _as_superuser(db, f"UPDATE audit_event SET hash = '{row_hash(row)}' WHERE id = 3")
    result = verify()
    assert (result.first_bad_id, result.reason) == (4, "link")


def _row(event_id: int) -> dict:
    from app.audit.chain import iter_rows

    return next(iter_rows(event_id - 1, event_id, 1))


def test_deleted_rows_are_found(db):
    _write_events(6)
    _as_superuser(db, "DELETE FROM audit_event WHERE id = 4")
    result = verify()
    assert (result.first_bad_id, result.reason) == (5, "gap")


def test_removed_tail_is_found(db):
    _write_events(4)
    _as_superuser(db, "DELETE FROM audit_event WHERE id = 4")
    result = verify()
    assert (result.first_bad_id, result.reason) == (4, "tail")


@pytest.fixture
def cli(pg):
    """Run `oa-ops audit ...` in-process; the command closes the pool, so reopen it after."""
    from ops_cli.audit_cmd import app

    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    cfg = settings()
    init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)


def test_verify_command_exit_codes_and_names_the_row(db, cli):
    _write_events(8)
    result = cli("verify", "--batch-size", "100")
    assert result.exit_code == 0, result.output
    assert "审计日志完整" in result.output and "8" in result.output
    _as_superuser(db, """UPDATE audit_event SET details = '{"n": "forged"}' WHERE id = 5""")
    close_database()
    cfg = settings()
    init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)
    result = cli("verify")
    assert result.exit_code == 1
    assert "第一条异常记录编号 5" in result.output
    assert "内容被篡改" in result.output
