"""Every request resolves its session in ONE statement outside a transaction, and writes
last_seen_at at most once a minute (the idle timeout can only end a session early, never late)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.auth import roles, sessions
from app.core.context import SYSTEM_CONTEXT
from app.core.db import database, run_in_transaction, run_without_transaction
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


def test_one_statement_resolves_the_whole_principal(db, token, monkeypatch) -> None:
    statements: list[str] = []
    execute = database.obj.execute_sql

    def counting(sql, params=None, **kwargs):
        statements.append(sql)
        return execute(sql, params, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", counting)
    principal = run_without_transaction(sessions.resolve_session, token, "10.0.0.8")
    assert len(statements) == 1
    monkeypatch.undo()
    assert principal is not None and principal.username == "zhangsan"
    # the same grants as the role service computes them with its own queries
    permissions, admin, _ = run_in_transaction(roles.user_permissions, principal.user_id)
    assert principal.permissions == permissions and principal.permissions
    assert principal.admin_role == admin and principal.pending_url is None


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
