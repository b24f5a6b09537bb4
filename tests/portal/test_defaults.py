"""Default layouts as features add widgets: staff get every business widget between their
details and their shortcuts; an administrator gets its duty's widgets first."""

from __future__ import annotations

from app.core.context import Principal
from app.core.features import Scope, Widget
from app.portal.service import default_layout


def _widget(key: str, permission: str | None = None) -> Widget:
    return Widget(key=key, title=key, template="", load=lambda ctx: {}, permission=permission)


WIDGETS = [
    _widget("profile"), _widget("shortcuts"), _widget("todo", "workflow.todo.view"),
    _widget("notices"), _widget("audit_overview", "audit.view"),
    _widget("org_stats", "org.manage"),
]


def _principal(admin_role: str | None, *permissions: str) -> Principal:
    return Principal(user_id=1, username="u", name="u", department_id=1, session_id="s" * 32,
                     permissions=dict.fromkeys(permissions, Scope.ALL), admin_role=admin_role)


def test_staff_default_frames_business_widgets() -> None:
    staff = _principal(None, "workflow.todo.view")
    assert default_layout(staff, WIDGETS) == ["profile", "todo", "notices", "shortcuts"]


def test_administrators_see_their_duty_first_and_nothing_of_business() -> None:
    assert default_layout(_principal("auditor", "audit.view"), WIDGETS) == [
        "audit_overview", "profile", "shortcuts"]
    assert default_layout(_principal("sysadmin", "org.manage"), WIDGETS) == [
        "org_stats", "shortcuts", "profile"]
    assert default_layout(_principal("secadmin", "auth.role.manage"), WIDGETS) == [
        "shortcuts", "profile"]
