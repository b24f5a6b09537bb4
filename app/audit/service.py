"""The audit trail: record events, verify the hash chain, search, export and count.

Writing: `record(ctx, action, ...)` runs inside the caller's unit of work. It inserts the event
into `audit_event_pending`, so it commits or rolls back with the caller's work. Chaining (the
next id, the link to the previous hash, the row's own hash) must be serialised (one unbroken
chain) and costs less per event the more events it takes at once, so it is not done by the
writer: `chain_pending` moves the committed pending events into the chain in batches. Every
web worker runs it each second (`schedule_chaining`; the workers never wait for each other's
pass), and the auditor's screens, exports and statistics run it, waiting for the head, before
they read (migrations 0002-0004 explain the history and the measurements).
Consequence for callers: an event shows in `audit_event` only after its commit and the next
pass; a reader of the trail calls `chain_pending()` first.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import peewee as pw

from app.audit.chain import VerifyResult, verify_chain
from app.audit.models import OUTCOME_TITLES, OUTCOMES, AuditEvent
from app.core.config import settings
from app.core.context import RequestContext
from app.core.db import database, execute_prepared
from app.core.errors import ValidationError
from app.core.features import Scope
from app.core.sql import like_prefix

__all__ = [
    "EXPORT_LIMIT",
    "PAGE_SIZE",
    "AuditQuery",
    "VerifyResult",
    "chain_pending",
    "daily_counts",
    "export_events",
    "iter_events",
    "overview",
    "record",
    "schedule_chaining",
    "search",
    "verify_chain",
]

USER_AGENT_MAX = 200
TEXT_MAX = 200
DETAILS_MAX_CHARS = 16_000

_INSERT_PENDING = (
    "INSERT INTO audit_event_pending (actor_id, actor_username, actor_name, ip, user_agent,"
    " request_id, action, object_type, object_id, outcome, details)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
)


def record(ctx: RequestContext, action: str, *, object_type: str = "",
           object_id: str | int | None = None, outcome: str = "success",
           details: dict | None = None) -> None:
    """Append an event to the audit trail, in the caller's transaction (blocking). The INSERT
    goes out with the transaction's next statement or its COMMIT (db.execute_prepared's
    `deferred`): one round trip fewer on nearly every request (bench/README.md, finding 37)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome: {outcome!r}")
    if not action or len(action) > 100:
        raise ValueError(f"invalid audit action: {action!r}")
    principal = ctx.principal
    execute_prepared(_INSERT_PENDING, (
        principal.user_id if principal else None,
        _clean(principal.username if principal else "", TEXT_MAX),
        _clean(principal.name if principal else "", TEXT_MAX),
        _clean(ctx.ip, 64),
        _clean(ctx.user_agent, USER_AGENT_MAX),
        _clean(ctx.request_id, 64),
        _clean(action, 100),
        _clean(object_type, 100),
        None if object_id is None else _clean(str(object_id), TEXT_MAX),
        outcome,
        _details_json(details),
    ), deferred=True)


CHAIN_BATCH = 1000  # what audit_chain_pending moves per call
CHAIN_EVERY_SECONDS = 1.0


def chain_pending(wait: bool = True) -> int:
    """Chain every committed pending event now (blocking); the number chained. With `wait`,
    waits for a committer holding the chain head, so that a read afterwards sees them all.
    A role that may only read the trail (the auditors' oa_audit) chains nothing and reads what
    is chained."""
    if not database.execute_sql("SELECT has_function_privilege("
                                "'audit_chain_pending(boolean)', 'EXECUTE')").fetchone()[0]:
        return 0
    total = 0
    while True:
        moved = database.execute_sql("SELECT audit_chain_pending(%s)", (wait,)).fetchone()[0]
        total += moved
        if moved < CHAIN_BATCH:
            return total


def schedule_chaining(application: Any) -> None:
    """Chain pending events every CHAIN_EVERY_SECONDS in this web worker (see the module doc):
    the bound on how long an event of a busy moment waits outside the chain."""
    from app.core.periodic import every

    every(application, CHAIN_EVERY_SECONDS, chain_pending, False,
          name="chaining pending audit events", mode="statements")


def _clean(text: str | None, limit: int) -> str:
    """PostgreSQL text cannot hold NUL; keep snapshots short."""
    return (text or "").replace("\x00", "")[:limit]


def _jsonable(value: Any) -> Any:
    """Plain JSON values jsonb accepts: no NaN/Infinity, no NUL, string keys."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(str(k), 200): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return _jsonable(str(value))


def _details_json(details: dict | None) -> str:
    value = _jsonable(details or {})
    try:  # orjson: a sixth of the standard library's time on every audited request
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        text = json.dumps(value, ensure_ascii=False)
    if len(text) > DETAILS_MAX_CHARS:
        text = json.dumps({"truncated": True, "size": len(text),
                           "preview": text[:DETAILS_MAX_CHARS // 2]}, ensure_ascii=False)
    return text


# ---- reading ------------------------------------------------------------------------------
PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
EXPORT_LIMIT = 50_000  # rows per export from the web; `oa-ops audit export` has no limit
CHART_DAYS = 30


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings().time_zone)


def local_text(moment: dt.datetime) -> str:
    """2026-11-24 10:15:03 in the configured local time zone."""
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class AuditQuery:
    """The auditor's filters. Dates are local calendar days, both ends included."""

    actor: str = ""  # account name or person's name, exact
    action: str = ""  # exact, or a prefix ending in "." / "*" (e.g. "auth." or "org.user*")
    object_type: str = ""
    object_id: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.outcome and self.outcome not in OUTCOMES:
            raise ValidationError({"outcome": "结果只能是：成功、失败、拒绝"})
        if self.since and self.until and self.since > self.until:
            raise ValidationError({"until": "结束日期不能早于开始日期"})

    @classmethod
    def from_form(cls, data: dict[str, Any]) -> AuditQuery:
        names = ("actor", "action", "object_type", "object_id", "outcome", "since", "until")
        return cls(**{name: data[name] for name in names if data.get(name) not in (None, "")})

    def as_details(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v)
                for k, v in asdict(self).items() if v not in (None, "")}


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=local_zone())


def _filtered(ctx: RequestContext | None, query: AuditQuery, scope: Scope) -> pw.ModelSelect:
    select = AuditEvent.select()
    conditions = []
    if query.actor:
        actor = query.actor.strip()
        conditions.append((AuditEvent.actor_username == actor.lower())
                          | (AuditEvent.actor_name == actor))
    if query.action:
        action = query.action.strip()
        if action.endswith(("*", ".")):
            conditions.append(_starts_with(AuditEvent.action, action.rstrip("*")))
        else:
            conditions.append(AuditEvent.action == action)
    if query.object_type:
        conditions.append(AuditEvent.object_type == query.object_type.strip())
    if query.object_id:
        conditions.append(AuditEvent.object_id == query.object_id.strip())
    if query.outcome:
        conditions.append(AuditEvent.outcome == query.outcome)
    if query.since:
        conditions.append(AuditEvent.occurred_at >= _local_midnight(query.since))
    if query.until:
        conditions.append(AuditEvent.occurred_at
                          < _local_midnight(query.until + dt.timedelta(days=1)))
    scoped = _scope_condition(ctx, scope)
    if scoped is not None:
        conditions.append(scoped)
    return select.where(*conditions) if conditions else select


def _starts_with(column: pw.Field, prefix: str) -> pw.Expression:
    return pw.Expression(column, pw.OP.LIKE, like_prefix(prefix))


def _scope_condition(ctx: RequestContext | None, scope: Scope) -> pw.Expression | None:
    """Below scope ALL, an auditor sees the events of the actors in their own data scope."""
    if ctx is None or scope == Scope.ALL:
        return None
    principal = ctx.principal
    if principal is None or scope == Scope.SELF or principal.department_id is None:
        return AuditEvent.actor_id == (principal.user_id if principal else -1)
    from app.org.models import User
    from app.org.service import department_subtree_ids

    if scope == Scope.DEPARTMENT:
        departments = {principal.department_id}
    else:
        departments = department_subtree_ids(principal.department_id)
    actors = User.select(User.id).where(User.department.in_(departments))
    return AuditEvent.actor_id.in_(actors)


def event_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "occurred_local": local_text(event.occurred_at),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "actor_name": event.actor_name,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "outcome_title": OUTCOME_TITLES.get(event.outcome, event.outcome),
        "details": event.details,
        "hash": event.hash,
    }


@dataclass(frozen=True)
class SearchPage:
    items: list[dict[str, Any]]
    next_before: int | None  # pass as `before` for the next (older) page; None: no more
    query: AuditQuery


def search(ctx: RequestContext, query: AuditQuery, *, before: int | None = None,
           limit: int = PAGE_SIZE) -> SearchPage:
    """Matching events, newest first, one page (keyset: ids below `before`). Audited."""
    scope = ctx.require("audit.view")
    chain_pending()
    limit = max(1, min(PAGE_SIZE_MAX, limit))
    select = _filtered(ctx, query, scope)
    if before is not None:
        select = select.where(AuditEvent.id < before)
    rows = list(select.order_by(AuditEvent.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    items = [event_values(e) for e in rows[:limit]]
    record(ctx, "audit.search", object_type="audit_event",
           details={"filters": query.as_details(), "before": before, "returned": len(items)})
    return SearchPage(items, items[-1]["id"] if more and items else None, query)


def iter_events(query: AuditQuery, *, batch_size: int = 2000,
                ctx: RequestContext | None = None,
                scope: Scope = Scope.ALL) -> Iterator[dict[str, Any]]:
    """Every matching event in id order, fetched in keyset batches (no size limit)."""
    chain_pending()
    after = 0
    while True:
        batch = list(_filtered(ctx, query, scope).where(AuditEvent.id > after)
                     .order_by(AuditEvent.id).limit(batch_size))
        yield from (event_values(e) for e in batch)
        if len(batch) < batch_size:
            return
        after = batch[-1].id


@dataclass(frozen=True)
class Export:
    events: list[dict[str, Any]]  # oldest first
    truncated: bool  # more than EXPORT_LIMIT matched: these are the newest EXPORT_LIMIT


def export_events(ctx: RequestContext, query: AuditQuery, file_format: str) -> Export:
    """The newest EXPORT_LIMIT matching events, oldest first, for a CSV/XLSX file. Audited."""
    scope = ctx.require("audit.export")
    chain_pending()
    rows = list(_filtered(ctx, query, scope).order_by(AuditEvent.id.desc())
                .limit(EXPORT_LIMIT + 1))
    truncated = len(rows) > EXPORT_LIMIT
    events = [event_values(e) for e in reversed(rows[:EXPORT_LIMIT])]
    record(ctx, "audit.export", object_type="audit_event",
           details={"filters": query.as_details(), "format": file_format,
                    "rows": len(events), "truncated": truncated})
    return Export(events, truncated)


# ---- counts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


@dataclass(frozen=True)
class Stats:
    days: list[DayCount]  # oldest first, one per local day, zeros included
    by_outcome: dict[str, int]
    total: int


def _today() -> dt.date:
    return dt.datetime.now(local_zone()).date()


def daily_counts(ctx: RequestContext, days: int = CHART_DAYS) -> Stats:
    """Events per local day over the last `days` days (today included), and per outcome."""
    scope = ctx.require("audit.view")
    chain_pending()
    first = _today() - dt.timedelta(days=days - 1)
    zone = settings().time_zone
    local_day = pw.fn.date(pw.fn.timezone(zone, AuditEvent.occurred_at))
    select = _filtered(ctx, AuditQuery(since=first), scope)
    per_day = dict(select.select(local_day.alias("day"), pw.fn.count(AuditEvent.id))
                   .group_by(pw.SQL("1")).tuples())
    outcomes = dict(select.select(AuditEvent.outcome, pw.fn.count(AuditEvent.id))
                    .group_by(AuditEvent.outcome).tuples())
    series = [DayCount(first + dt.timedelta(days=i), per_day.get(first + dt.timedelta(days=i), 0))
              for i in range(days)]
    record(ctx, "audit.stats", object_type="audit_event", details={"days": days})
    return Stats(series, {o: outcomes.get(o, 0) for o in OUTCOMES}, sum(outcomes.values()))


def overview(ctx: RequestContext) -> dict[str, Any]:
    """The portal widget: today's events, failures and denials (local day)."""
    scope = ctx.require("audit.view")
    chain_pending()
    today = _today()
    select = _filtered(ctx, AuditQuery(since=today, until=today), scope)
    outcomes = dict(select.select(AuditEvent.outcome, pw.fn.count(AuditEvent.id))
                    .group_by(AuditEvent.outcome).tuples())
    record(ctx, "audit.overview", object_type="audit_event")
    return {"today": today, "total": sum(outcomes.values()),
            "failures": outcomes.get("failure", 0), "denials": outcomes.get("denied", 0)}
