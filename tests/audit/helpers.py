"""Contexts and raw writes for the audit tests."""

from __future__ import annotations

import datetime as dt

from app.audit.service import record
from app.core.context import Principal, RequestContext
from app.core.db import database, run_in_transaction
from app.core.features import Scope
from tests.support.audit import chain_audit_trail

AUDITOR_PERMISSIONS = {"audit.view": Scope.ALL, "audit.export": Scope.ALL}


def context(user_id: int = 1, username: str = "zhangsan", name: str = "张三",
            permissions: dict[str, Scope] | None = None, department_id: int | None = None,
            ip: str = "10.1.2.3") -> RequestContext:
    principal = Principal(user_id=user_id, username=username, name=name,
                          department_id=department_id, session_id="s" * 32,
                          permissions=permissions or {})
    return RequestContext(principal=principal, ip=ip, request_id=f"req-{user_id}",
                          user_agent="pytest")


def auditor(**kwargs) -> RequestContext:
    return context(user_id=900, username="shenji", name="审计员",
                   permissions=AUDITOR_PERMISSIONS, **kwargs)


def write(ctx: RequestContext, action: str, **fields) -> None:
    """One event in its own committed transaction, then chained unless the head is taken."""
    run_in_transaction(record, ctx, action, **fields)
    chain_audit_trail(wait=False)


def write_at(moment: dt.datetime, action: str, outcome: str = "success") -> None:
    """An event with a chosen time (the pending table takes occurred_at as given)."""
    run_in_transaction(lambda: database.execute_sql(
        "INSERT INTO audit_event_pending (occurred_at, action, outcome) VALUES (%s, %s, %s)",
        (moment, action, outcome)))


def stored_rows(chain: bool = True) -> list[tuple]:
    """The chained trail, oldest first. With `chain`, first chains what is pending unless the
    head is taken (what a commit used to do; app/audit/migrations/0004): without it, only what
    the web worker's pass or an auditor's read has chained."""
    if chain:
        chain_audit_trail(wait=False)
    return run_in_transaction(lambda: database.execute_sql(
        "SELECT id, prev_hash, hash, action, actor_username, details::text"
        " FROM audit_event ORDER BY id").fetchall())
