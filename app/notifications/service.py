"""系统通知: each user's notifications, and monitoring alerts turned into notifications.

Alertmanager posts groups of alerts to the webhook (handlers.AlertmanagerWebhookHandler). A
firing alert gives every active 系统管理员 and 安全管理员 one open notification, found again by
the alert's fingerprint while it stays open (a repeated post refreshes it, never duplicates
it); a resolved alert closes them. Every function here is blocking and runs inside one unit of
work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from app.audit.service import record
from app.core.context import Principal, RequestContext
from app.core.errors import NotAuthenticated, NotFound
from app.core.sql import Compiled, count_of
from app.notifications.models import SEVERITY_TITLES, Notification
from app.notifications.webhook import WEBHOOK_BODY

ALERT_SOURCE = "alertmanager"
ALERT_RECIPIENT_ROLES = ("sysadmin", "secadmin")
PAGE_SIZE = 50
WIDGET_ROWS = 5
TITLE_MAX = 200
BODY_MAX = 4000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _principal(ctx: RequestContext) -> Principal:
    if ctx.principal is None:
        raise NotAuthenticated()
    return ctx.principal


# ---- alerts from Alertmanager ------------------------------------------------------------------

def alert_recipients() -> list[int]:
    """Active users holding the 系统管理员 or 安全管理员 role."""
    from app.auth.models import UserRole
    from app.org.models import User

    rows = (UserRole.select(UserRole.user).distinct()
            .join(User, on=(UserRole.user == User.id))
            .where(UserRole.admin_kind.in_(ALERT_RECIPIENT_ROLES) & (User.status == "active")))
    return sorted(row.user_id for row in rows)


def _severity(labels: dict[str, str]) -> str:
    value = labels.get("severity", "warning").lower()
    return value if value in SEVERITY_TITLES else "warning"


def alert_text(alert: dict[str, Any]) -> tuple[str, str]:
    """The Chinese title and body of an alert's notification, from its annotations."""
    labels, annotations = alert["labels"], alert["annotations"]
    name = labels.get("alertname", "未命名告警")
    title = annotations.get("summary") or f"监控告警：{name}"
    lines = [annotations.get("description", "")]
    if labels.get("instance"):
        lines.append(f"告警对象：{labels['instance']}")
    lines.append(f"告警规则：{name}")
    return title[:TITLE_MAX], "\n".join(line for line in lines if line)[:BODY_MAX]


def _rows(alert: dict[str, Any], recipients: list[int], now: dt.datetime,
          **extra: Any) -> list[dict[str, Any]]:
    title, body = alert_text(alert)
    return [{"user_id": user_id, "title": title, "body": body,
             "severity": _severity(alert["labels"]), "link": "/notifications",
             "source": ALERT_SOURCE, "fingerprint": alert["fingerprint"], "created_at": now,
             "updated_at": now, **extra} for user_id in recipients]


def _open_alert(alert: dict[str, Any], recipients: list[int], now: dt.datetime) -> None:
    title, body = alert_text(alert)
    severity = _severity(alert["labels"])
    rows = _rows(alert, recipients, now)
    (Notification.insert_many(rows)
     .on_conflict(conflict_target=[Notification.user_id, Notification.fingerprint],
                  conflict_where=(Notification.fingerprint.is_null(False)
                                  & Notification.resolved_at.is_null()),
                  update={Notification.title: title, Notification.body: body,
                          Notification.severity: severity, Notification.updated_at: now})
     .execute())


def _of_alert(alert: dict[str, Any]) -> pw.Expression:
    return ((Notification.source == ALERT_SOURCE)
            & (Notification.fingerprint == alert["fingerprint"]))


def _resolve_alert(alert: dict[str, Any], recipients: list[int], now: dt.datetime) -> int:
    """Close the alert's open notifications. An alert that fired and resolved while its firing
    post could not be delivered (e.g. the database itself was down) still leaves a record: a
    recipient with nothing of this episode (since startsAt) gets a notification already closed."""
    closed = (Notification.update(resolved_at=now, updated_at=now)
              .where(_of_alert(alert) & Notification.resolved_at.is_null()).execute())
    started = alert.get("startsAt")
    if started is None or not recipients:
        return closed
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    seen = {row.user_id for row in Notification.select(Notification.user_id)
            .where(_of_alert(alert) & (Notification.updated_at >= started))}
    missed = [user_id for user_id in recipients if user_id not in seen]
    if missed:
        Notification.insert_many(_rows(alert, missed, now, resolved_at=now)).execute()
    return closed


def receive_alerts(ctx: RequestContext, payload: dict[str, Any],
                   received_at: dt.datetime | None = None) -> dict[str, Any]:
    """Apply one validated Alertmanager post, as of when it arrived (`received_at`: a post
    replayed from the spool, see spool.py); audited. Returns what changed."""
    now = received_at or _now()
    recipients = alert_recipients()
    firing = [a for a in payload["alerts"] if a["status"] == "firing"]
    resolved = [a for a in payload["alerts"] if a["status"] == "resolved"]
    if recipients:
        for alert in firing:
            _open_alert(alert, recipients, now)
    closed = sum(_resolve_alert(alert, recipients, now) for alert in resolved)
    summary = {"firing": len(firing), "resolved": len(resolved),
               "recipients": len(recipients), "closed": closed}
    record(ctx, "notifications.alert.receive", object_type="alert_group",
           object_id=payload.get("groupKey") or None, details={
               **summary, "receiver": payload.get("receiver", ""),
               **({"spooled_at": received_at.isoformat()} if received_at else {}),
               "alerts": [{"alertname": a["labels"].get("alertname", ""),
                           "status": a["status"], "fingerprint": a["fingerprint"],
                           "summary": alert_text(a)[0]} for a in payload["alerts"][:50]]})
    return summary


def receive_spooled(ctx: RequestContext, body: dict[str, Any],
                    received_at: dt.datetime) -> dict[str, Any]:
    """A spooled post: validated again (it was stored as it came), then applied."""
    return receive_alerts(ctx, WEBHOOK_BODY.validate(body), received_at)


# ---- a user's own notifications ----------------------------------------------------------------

def _mine(principal: Principal) -> pw.Expression:
    return _of_user(principal.user_id)


def _of_user(user_id: int) -> pw.Expression:
    return Notification.user_id == user_id


def notification_values(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "body": row.body, "severity": row.severity,
            "severity_title": SEVERITY_TITLES.get(row.severity, row.severity),
            "link": row.link, "source": row.source, "created_at": row.created_at,
            "updated_at": row.updated_at, "read": row.read_at is not None,
            "resolved": row.resolved_at is not None, "resolved_at": row.resolved_at}


def list_notifications(ctx: RequestContext, *, unread_only: bool = False,
                       page: int = 1) -> dict[str, Any]:
    principal = _principal(ctx)
    query = Notification.select().where(_mine(principal))
    if unread_only:
        query = query.where(Notification.read_at.is_null())
    total = query.count()
    rows = (query.order_by(Notification.created_at.desc(), Notification.id.desc())
            .paginate(page, PAGE_SIZE))
    return {"items": [notification_values(r) for r in rows], "total": total, "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)), "unread": unread_count(ctx)}


# counted with every page (the nav badge): its SQL made once and the statement prepared
_UNREAD_COUNT = Compiled(lambda user: count_of(
    Notification.select().where(_of_user(user) & Notification.read_at.is_null())), user=int)


def unread_count(ctx: RequestContext) -> int:
    """The nav badge: my unread notifications."""
    return _UNREAD_COUNT.scalar(user=_principal(ctx).user_id)


def mark_read(ctx: RequestContext, notification_id: int) -> None:
    """Mark one of MY notifications read; someone else's is not found. Audited."""
    principal = _principal(ctx)
    row = Notification.get_or_none((Notification.id == notification_id) & _mine(principal))
    if row is None:
        raise NotFound("通知不存在")
    if row.read_at is None:
        Notification.update(read_at=_now()).where(Notification.id == row.id).execute()
        record(ctx, "notifications.read", object_type="notification", object_id=row.id)


def mark_all_read(ctx: RequestContext) -> int:
    principal = _principal(ctx)
    changed = (Notification.update(read_at=_now())
               .where(_mine(principal) & Notification.read_at.is_null()).execute())
    if changed:
        record(ctx, "notifications.read_all", object_type="notification",
               details={"count": changed})
    return changed


def load_alerts_widget(ctx: RequestContext) -> dict[str, Any]:
    """系统告警: my open (unresolved) alert notifications, newest first."""
    principal = _principal(ctx)
    query = Notification.select().where(_mine(principal)
                                        & (Notification.source == ALERT_SOURCE)
                                        & Notification.resolved_at.is_null())
    rows = query.order_by(Notification.updated_at.desc(), Notification.id.desc()).limit(
        WIDGET_ROWS)
    return {"alerts": [notification_values(r) for r in rows], "open_count": query.count()}
