"""工作门户: which widgets a user sees, in which order, and loading them for the desktop.

Widgets are declared by the features (`Widget` in app.core.features) and handed in by the
handlers from the application's settings; this module never imports another feature's
widgets. Every function here is blocking and runs inside one unit of work.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from app.audit.service import record
from app.core.config import settings
from app.core.context import Principal, RequestContext
from app.core.db import database
from app.core.errors import NotAuthenticated, PermissionDenied, ValidationError
from app.core.features import Widget
from app.core.sql import Compiled
from app.portal.models import PortalLayout

log = logging.getLogger("oa.portal")

MAX_WIDGETS = 50

# The default desktop per role, as widget keys in display order. Two placeholders stand for
# widgets that features add over time: OTHERS, every other widget the user may see (for staff:
# 待办, 审批, 文件, 日程, 公告 as those features arrive, in the features' order); DUTY, the
# widgets behind a permission the user holds (for an administrator: those of its duty, e.g. the
# auditor's 今日审计概况). Keys the user may not see, or no feature provides, are left out.
OTHERS = "*others"
DUTY = "*duty"
STAFF_DEFAULT: tuple[str, ...] = ("profile", OTHERS, "shortcuts")
ROLE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "sysadmin": (DUTY, "shortcuts", "profile"),
    "secadmin": (DUTY, "shortcuts", "profile"),
    "auditor": (DUTY, "profile", "shortcuts"),
}


@dataclass(frozen=True)
class LoadedWidget:
    widget: Widget
    values: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


def _principal(ctx: RequestContext) -> Principal:
    if ctx.principal is None:
        raise NotAuthenticated()
    return ctx.principal


def visible_widgets(principal: Principal, widgets: Sequence[Widget]) -> list[Widget]:
    """The widgets this user may see, in the features' order."""
    return [w for w in widgets if w.permission is None or principal.can(w.permission)]


def default_layout(principal: Principal, widgets: Sequence[Widget]) -> list[str]:
    """The role's default choice and order of widget keys."""
    visible = visible_widgets(principal, widgets)
    pattern = ROLE_DEFAULTS.get(principal.admin_role or "", STAFF_DEFAULT)
    named = {k for k in pattern if k not in (OTHERS, DUTY)}
    groups = {
        DUTY: [w.key for w in visible if w.permission is not None and w.key not in named],
        OTHERS: [w.key for w in visible if w.key not in named],
    }
    keys = {w.key for w in visible}
    layout: list[str] = []
    for entry in pattern:
        for key in groups.get(entry, [entry]):
            if key in keys and key not in layout:
                layout.append(key)
    return layout


_SAVED_LAYOUT = Compiled(lambda user: PortalLayout.select(PortalLayout.widgets)
                         .where(PortalLayout.user_id == user), user=int)


def saved_layout(user_id: int) -> list[str] | None:
    rows = _SAVED_LAYOUT.rows(user=user_id)
    return list(rows[0].widgets) if rows else None


def current_layout(ctx: RequestContext, widgets: Sequence[Widget]) -> tuple[list[str], bool]:
    """The keys shown on this user's desktop, in order, and whether they chose them.

    A saved widget the user may no longer see (a role was taken away, a feature removed)
    is dropped here rather than refused, so the desktop always renders."""
    principal = _principal(ctx)
    saved = saved_layout(principal.user_id)
    if saved is None:
        return default_layout(principal, widgets), False
    keys = {w.key for w in visible_widgets(principal, widgets)}
    return [k for k in saved if k in keys], True


def load_desktop(ctx: RequestContext, widgets: Sequence[Widget]) -> list[LoadedWidget]:
    """Every widget on the user's desktop with its values, in ONE unit of work.

    A widget whose load fails shows a short notice instead of taking the whole desktop down
    with it: the unit of work is rolled back (a failed statement aborts the transaction) and
    the desktop loaded again without that widget. Widgets seldom fail, so this costs nothing
    on every other view, where a savepoint around each widget cost two round trips each."""
    layout, _ = current_layout(ctx, widgets)
    by_key = {w.key: w for w in widgets}
    left_out: dict[str, bool] = {}  # key -> failed (True) or refused by its own check (False)
    while True:
        loaded = _load_widgets(ctx, [by_key[key] for key in layout], left_out)
        if loaded is not None:
            return loaded
        database.top_transaction().rollback()  # and begin again


def _load_widgets(ctx: RequestContext, widgets: list[Widget],
                  left_out: dict[str, bool]) -> list[LoadedWidget] | None:
    """The widgets' values, or None after recording in `left_out` the one that failed."""
    loaded: list[LoadedWidget] = []
    for widget in widgets:
        if widget.key in left_out:
            if left_out[widget.key]:
                loaded.append(LoadedWidget(widget, failed=True))
            continue
        try:
            values = widget.load(ctx) or {}
        except PermissionDenied:
            left_out[widget.key] = False  # the widget's own object check: show nothing
            return None
        except Exception:
            log.exception("portal widget %s failed to load", widget.key)
            left_out[widget.key] = True
            return None
        loaded.append(LoadedWidget(widget, values))
    return loaded


def layout_choices(ctx: RequestContext, widgets: Sequence[Widget]) -> dict[str, Any]:
    """What the customise page offers: the shown widgets in order, then the hidden ones."""
    principal = _principal(ctx)
    layout, customised = current_layout(ctx, widgets)
    visible = {w.key: w for w in visible_widgets(principal, widgets)}
    hidden = [k for k in visible if k not in layout]
    choices = [
        {"key": key, "title": visible[key].title, "shown": key in layout, "position": index + 1}
        for index, key in enumerate(layout + hidden)
    ]
    return {"widgets": layout, "customised": customised, "available": choices}


def validate_keys(principal: Principal, widgets: Sequence[Widget], keys: Any) -> list[str]:
    """The submitted list of keys, or a ValidationError in Chinese naming what is wrong."""
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValidationError({"widgets": "组件列表应为由组件标识组成的数组"})
    if len(keys) > MAX_WIDGETS:
        raise ValidationError({"widgets": f"组件不能超过{MAX_WIDGETS}个"})
    known = {w.key: w for w in widgets}
    allowed = {w.key for w in visible_widgets(principal, widgets)}
    unknown = [k for k in keys if k not in known]
    if unknown:
        names = "、".join(k[:40] for k in unknown[:5])
        raise ValidationError({"widgets": f"没有这些组件：{names}"})
    forbidden = [known[k].title for k in keys if k not in allowed]
    if forbidden:
        raise ValidationError({"widgets": f"您无权使用这些组件：{'、'.join(forbidden)}"})
    duplicated = sorted({known[k].title for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValidationError({"widgets": f"组件重复：{'、'.join(duplicated)}"})
    return list(keys)


def save_layout(ctx: RequestContext, widgets: Sequence[Widget], keys: Any) -> list[str]:
    """Store the user's own choice and order of widgets; audited."""
    principal = _principal(ctx)
    chosen = validate_keys(principal, widgets, keys)
    before = saved_layout(principal.user_id)
    now = dt.datetime.now(dt.UTC)
    (PortalLayout
     .insert(user_id=principal.user_id, widgets=chosen, updated_at=now)
     .on_conflict(conflict_target=[PortalLayout.user_id],
                  update={PortalLayout.widgets: chosen, PortalLayout.updated_at: now})
     .execute())
    record(ctx, "portal.layout.update", object_type="portal_layout",
           object_id=principal.user_id, details={"before": before, "after": chosen})
    return chosen


def update_layout(ctx: RequestContext, widgets: Sequence[Widget], keys: Any) -> dict[str, Any]:
    """Save, then describe the layout as the API answers it."""
    save_layout(ctx, widgets, keys)
    return layout_choices(ctx, widgets)


def reset_layout(ctx: RequestContext, widgets: Sequence[Widget]) -> list[str]:
    """Forget the user's own choice: the role's default applies again; audited."""
    principal = _principal(ctx)
    before = saved_layout(principal.user_id)
    PortalLayout.delete().where(PortalLayout.user_id == principal.user_id).execute()
    record(ctx, "portal.layout.reset", object_type="portal_layout",
           object_id=principal.user_id, details={"before": before})
    return default_layout(principal, widgets)


# ---- the portal's own widgets ------------------------------------------------------------------

def _profile_query(user: int) -> pw.Select:
    """My name, department, position, password change time and previous sign-in (the newest
    signed-in session is this one; the one before it is the previous sign-in)."""
    from app.auth.models import Credential, UserSession
    from app.org.models import Department, Position, User

    previous = (UserSession.select(UserSession.id)
                .where((UserSession.user == user) & (UserSession.stage == "active"))
                .order_by(UserSession.created_at.desc(), UserSession.id.desc())
                .offset(1).limit(1))
    Previous = UserSession.alias("previous")
    return (User.select(User.name, Department.name.alias("department"),
                        Position.name.alias("position"), Credential.changed_at,
                        Previous.created_at.alias("last_login_at"),
                        Previous.ip.alias("last_login_ip"))
            .join(Department, on=(User.department == Department.id))
            .switch(User)
            .join(Position, pw.JOIN.LEFT_OUTER, on=(User.position == Position.id))
            .switch(User)
            .join(Credential, pw.JOIN.LEFT_OUTER, on=(Credential.user == User.id))
            .switch(User)
            .join(Previous, pw.JOIN.LEFT_OUTER, on=(Previous.id == previous))
            .where(User.id == user).dicts())


_PROFILE = Compiled(_profile_query, user=int)


def load_profile(ctx: RequestContext) -> dict[str, Any]:
    """我的信息: who I am, my previous sign-in, and when my password expires."""
    principal = _principal(ctx)
    row = next(iter(_PROFILE.rows(user=principal.user_id)), None) or {}
    return {
        "name": row.get("name") or principal.name,
        "department": row.get("department") or "",
        "position": row.get("position") or "",
        "last_login_at": row.get("last_login_at"),
        "last_login_ip": row.get("last_login_ip") or "",
        **_password_expiry(row.get("changed_at")),
    }


def _password_expiry(changed_at: dt.datetime | None) -> dict[str, Any]:
    cfg = settings()
    if changed_at is None or cfg.password_max_age_days <= 0:
        return {"password_expires_at": None, "password_days_left": None, "password_warn": False}
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=dt.UTC)
    expires = changed_at + dt.timedelta(days=cfg.password_max_age_days)
    days_left = (expires - dt.datetime.now(dt.UTC)).days
    return {"password_expires_at": expires, "password_days_left": max(days_left, 0),
            "password_warn": days_left < cfg.password_warn_days}


def load_shortcuts(ctx: RequestContext) -> dict[str, Any]:
    """常用入口: the template lists the menu entries this user may open (already filtered by
    permission in the page's `nav`), followed by these personal links."""
    _principal(ctx)
    return {"personal_links": [{"title": "个人设置", "url": "/account"},
                               {"title": "自定义工作台", "url": "/portal/customize"}]}
