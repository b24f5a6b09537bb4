"""Every request resolves its session in ONE statement outside a transaction (a second one only
when the user's grants changed or this process has not seen them), and writes last_seen_at at
most once a minute (the idle timeout can only end a session early, never late)."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg2
import pytest

from app.auth import roles, sessions
from app.core.context import SYSTEM_CONTEXT
from app.core.db import connect_params, database, run_in_transaction, run_without_transaction
from tests.support.accounts import make_user
from tests.support.database import TestDatabase


def _last_seen(db: TestDatabase) -> dt.datetime:
    conn = db.superuser()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT last_seen_at FROM user_session")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _age_session(db: TestDatabase, seconds: int) -> None:
    conn = db.superuser()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE user_session SET last_seen_at = now() - %s * interval '1 second'",
                        (seconds,))
    finally:
        conn.close()


@pytest.fixture
def token(db: TestDatabase) -> str:
    user = make_user("zhangsan", roles=("staff",))
    return run_in_transaction(sessions.create_session, SYSTEM_CONTEXT, user.id)


def _resolve_counting(token: str, monkeypatch) -> tuple[object, list[str]]:
    statements: list[str] = []
    execute = database.obj.execute_sql
    caller = threading.get_ident()  # not a live server's background pass, in its own thread

    def counting(sql, params=None, **kwargs):
        # PREPARE: planned once per connection, not per request
        if threading.get_ident() == caller and not sql.startswith("PREPARE "):
            statements.append(sql)
        return execute(sql, params, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", counting)
    try:
        return run_without_transaction(sessions.resolve_session, token, "10.0.0.8"), statements
    finally:
        monkeypatch.undo()


def test_one_statement_resolves_the_whole_principal(db, token, monkeypatch) -> None:
    first, statements = _resolve_counting(token, monkeypatch)
    assert len(statements) == 2  # the session, then the grants this process had not seen
    principal, statements = _resolve_counting(token, monkeypatch)
    assert len(statements) == 1  # the grants are this process's, under an unchanged stamp
    assert principal == first
    assert principal is not None and principal.username == "zhangsan"
    # the same grants as the role service computes them with its own queries
    permissions, admin, _ = run_in_transaction(roles.user_permissions, principal.user_id)
    assert principal.permissions == permissions and principal.permissions
    assert principal.admin_role == admin and principal.pending_url is None


def _as_owner(db: TestDatabase, sql: str, params: tuple = ()) -> None:
    conn = psycopg2.connect(**connect_params(db.owner_url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


@pytest.mark.parametrize("change", ["grant", "revoke", "membership", "new role"])
def test_any_change_of_grants_is_seen_by_the_next_request(db, token, monkeypatch,
                                                          change) -> None:
    before = run_without_transaction(sessions.resolve_session, token, "")
    staff_role = "(SELECT id FROM role WHERE code = 'staff')"
    user = before.user_id
    if change == "grant":
        _as_owner(db, f"INSERT INTO role_permission VALUES ({staff_role}, 'audit.view', 'all')")
    elif change == "revoke":
        _as_owner(db, f"DELETE FROM role_permission WHERE role_id = {staff_role}"
                      " AND permission = %s", (next(iter(before.permissions)),))
    elif change == "membership":
        _as_owner(db, "DELETE FROM user_role WHERE user_id = %s", (user,))
    else:
        _as_owner(db, "INSERT INTO role (code, name) VALUES ('duty_desk', '值班')")
        _as_owner(db, "INSERT INTO role_permission SELECT id, 'audit.view', 'all' FROM role"
                      " WHERE code = 'duty_desk'")
        _as_owner(db, "INSERT INTO user_role (user_id, role_id) SELECT %s, id FROM role"
                      " WHERE code = 'duty_desk'", (user,))
    after, statements = _resolve_counting(token, monkeypatch)
    assert len(statements) == 2  # read again
    permissions, _, _ = run_in_transaction(roles.user_permissions, user)
    assert after.permissions == permissions and after.permissions != before.permissions


def test_grants_are_not_kept_across_an_emptied_database(db, token) -> None:
    """Ids restart when the tests empty the tables: an old entry must never be taken for the
    new user with the same id (the stamp is random, and absent right after the emptying)."""
    staff = run_without_transaction(sessions.resolve_session, token, "")
    db.truncate_all()
    auditor = make_user("shenji", roles=("auditor",))
    assert auditor.id == staff.user_id
    fresh = run_in_transaction(sessions.create_session, SYSTEM_CONTEXT, auditor.id)
    principal = run_without_transaction(sessions.resolve_session, fresh, "")
    assert principal.admin_role == "auditor" and principal.permissions != staff.permissions


def test_last_seen_is_written_at_most_once_a_minute(db, token) -> None:
    _age_session(db, 30)
    before = _last_seen(db)
    assert run_without_transaction(sessions.resolve_session, token, "") is not None
    assert _last_seen(db) == before  # seen 30 s ago: not written again

    _age_session(db, 90)
    aged = _last_seen(db)
    assert run_without_transaction(sessions.resolve_session, token, "") is not None
    assert _last_seen(db) > aged + dt.timedelta(seconds=80)  # touched to about now


def test_an_idle_session_is_ended_not_touched(db, token, settings_override) -> None:
    settings_override(session_idle_minutes=30)
    _age_session(db, 31 * 60)
    aged = _last_seen(db)
    assert run_without_transaction(sessions.resolve_session, token, "") is None
    assert _last_seen(db) == aged
    assert run_without_transaction(sessions.resolve_session, token, "") is None  # stays ended
