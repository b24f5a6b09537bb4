"""The work portal: default layouts per role, the user's own layout (saved, validated,
persisted across sign-ins, audited), and widgets hidden from users without their permission."""

from __future__ import annotations

import re

import pytest

from app.audit.models import AuditEvent
from app.core.db import run_in_transaction
from app.features import installed_features
from tests.conftest import Client, LiveServer
from tests.support.accounts import login, make_user, totp_secret
from tests.support.audit import chain_audit_trail

PASSWORD = "Menhu#2026ok"
_WIDGET = re.compile(r'<section class="card widget" data-widget="([a-z0-9_]+)"')


def desktop(client: Client) -> list[str]:
    """The widget keys on the desktop, in the order the page shows them."""
    response = client.get("/")
    assert response.status_code == 200, response.text[:500]
    return _WIDGET.findall(response.text)


def layout(client: Client) -> list[str]:
    response = client.get("/api/portal/layout")
    assert response.status_code == 200, response.text[:500]
    return response.json()["widgets"]


ADMIN_ROLES = {"sysadmin", "secadmin", "auditor"}


def signed_in(live_server: LiveServer, username: str, roles: tuple[str, ...] = ("staff",),
              **fields) -> Client:
    """A new user with these roles, signed in through the real login pages."""
    admin = bool(ADMIN_ROLES & set(roles))
    user = make_user(username, password=PASSWORD, roles=roles, totp=admin, **fields)
    return sign_in_again(live_server, username, totp_secret(user) if admin else None)


def sign_in_again(live_server: LiveServer, username: str, secret: str | None = None) -> Client:
    client = live_server.client()
    login(client, username, PASSWORD, totp_secret=secret)
    return client


def permissioned_widget():
    """An installed widget that needs a permission, and an admin role holding it."""
    for feature in installed_features():
        for widget in feature.widgets:
            if widget.key == "audit_overview" and widget.permission:
                return widget
    pytest.fail("没有需要权限的门户组件（审计模块应注册 audit_overview）")


def audit_actions() -> list[str]:
    chain_audit_trail()
    def read() -> list[str]:
        query = AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)
        return [e.action for e in query]

    return run_in_transaction(read)


# ---- defaults ----------------------------------------------------------------------------------

def test_staff_desktop_shows_profile_first_and_shortcuts_last(live_server, db) -> None:
    client = signed_in(live_server, "zhangwei", name="张伟")
    keys = desktop(client)
    assert keys[0] == "profile" and keys[-1] == "shortcuts"
    assert keys == layout(client)
    page = client.get("/").text
    assert "张伟" in page and "我的信息" in page and "常用入口" in page
    assert "我的待办" in page and "我的审批" in page  # the workflow feature's widgets
    # widgets of features not built yet do not show, not even as placeholders
    for title in ("我的文件", "我的日程", "通知公告"):
        assert title not in page


def test_each_administrator_role_has_its_own_default(live_server, db) -> None:
    widget = permissioned_widget()
    defaults = {}
    for username, role in (("xtadmin", "sysadmin"), ("aqadmin", "secadmin"),
                           ("sjadmin", "auditor")):
        client = signed_in(live_server, username, roles=(role,))
        defaults[role] = desktop(client)
        assert defaults[role] == layout(client)
    staff = desktop(signed_in(live_server, "putong"))
    assert defaults["auditor"][0] == widget.key  # the auditor's own work comes first
    assert widget.key not in defaults["sysadmin"] and widget.key not in defaults["secadmin"]
    # the two other administrators' duty widget first: 系统告警 (app.notifications)
    assert defaults["sysadmin"][0] == "alerts_system" and staff[0] == "profile"
    assert defaults["secadmin"][0] == "alerts_security"
    assert len({tuple(keys) for keys in (*defaults.values(), staff)}) >= 3


# ---- the user's own layout ---------------------------------------------------------------------

def test_saving_a_layout_changes_the_desktop_and_is_audited(live_server, db) -> None:
    client = signed_in(live_server, "liuyang")
    response = client.put("/api/portal/layout", json={"widgets": ["shortcuts"]})
    assert response.status_code == 200
    assert response.json()["widgets"] == ["shortcuts"]
    assert response.json()["customised"] is True
    assert desktop(client) == ["shortcuts"]
    assert "portal.layout.update" in audit_actions()


def test_customise_form_orders_by_the_numbers_and_hides_unchecked(live_server, db) -> None:
    client = signed_in(live_server, "chenjing")
    page = client.get("/portal/customize")
    assert page.status_code == 200
    for key in ("profile", "shortcuts"):
        assert f'name="widgets" value="{key}"' in page.text
        assert f'name="order_{key}"' in page.text
    assert "保存" in page.text

    saved = client.post("/portal/customize", data={
        "widgets": ["profile", "shortcuts"], "order_profile": "9", "order_shortcuts": "2"})
    assert saved.status_code == 302
    assert desktop(client)[:2] == ["shortcuts", "profile"]

    hidden = client.post("/portal/customize", data={"widgets": ["profile"],
                                                     "order_profile": "1"})
    assert hidden.status_code == 302
    assert desktop(client) == ["profile"]

    bad = client.post("/portal/customize", data={"widgets": ["shortcuts"],
                                                  "order_shortcuts": "第一"})
    assert bad.status_code == 400
    assert "顺序必须是整数" in bad.text
    assert desktop(client) == ["profile"]  # nothing half-saved


def test_reset_returns_to_the_role_default(live_server, db) -> None:
    client = signed_in(live_server, "sunli")
    default = desktop(client)
    client.put("/api/portal/layout", json={"widgets": ["shortcuts"]})
    assert client.post("/portal/customize", data={"reset": "1"}).status_code == 302
    assert desktop(client) == default
    assert client.get("/api/portal/layout").json()["customised"] is False


@pytest.mark.parametrize("body, message", [
    ({"widgets": ["profile", "no_such_widget"]}, "没有这些组件"),
    ({"widgets": ["profile", "profile"]}, "组件重复"),
    ({"widgets": "profile"}, "数组"),
    ({"widgets": [1, 2]}, "数组"),
    ({}, "请提供组件列表"),
])
def test_invalid_layouts_are_refused_in_chinese(live_server, db, body, message) -> None:
    client = signed_in(live_server, "zhoujie")
    before = layout(client)
    response = client.put("/api/portal/layout", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["fields"]["widgets"]
    assert layout(client) == before


def test_malformed_json_is_a_400_not_a_500(live_server, db) -> None:
    client = signed_in(live_server, "wuqiang")
    response = client.put("/api/portal/layout", data=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_widget_needing_a_permission_is_hidden_and_refused(live_server, db) -> None:
    widget = permissioned_widget()
    staff = signed_in(live_server, "zhengli")
    assert widget.key not in desktop(staff)
    available = [c["key"] for c in staff.get("/api/portal/layout").json()["available"]]
    assert widget.key not in available
    assert f'value="{widget.key}"' not in staff.get("/portal/customize").text
    refused = staff.put("/api/portal/layout", json={"widgets": [widget.key, "profile"]})
    assert refused.status_code == 400
    assert "无权" in refused.json()["error"]["fields"]["widgets"]

    auditor = signed_in(live_server, "shenji", roles=("auditor",))
    assert widget.key in desktop(auditor)
    ok = auditor.put("/api/portal/layout", json={"widgets": [widget.key]})
    assert ok.status_code == 200
    assert desktop(auditor) == [widget.key]


def test_layout_persists_across_a_new_login(live_server, db) -> None:
    first = signed_in(live_server, "huangmin")
    assert first.put("/api/portal/layout",
                     json={"widgets": ["shortcuts", "profile"]}).status_code == 200
    assert first.post("/logout").status_code in (302, 303)
    second = sign_in_again(live_server, "huangmin")
    assert desktop(second) == ["shortcuts", "profile"]


def test_portal_needs_a_sign_in(live_server, db) -> None:
    anonymous = live_server.client()
    page = anonymous.get("/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert anonymous.get("/api/portal/layout").status_code == 401
    assert anonymous.put("/api/portal/layout", json={"widgets": []}).status_code == 401


def test_profile_shows_the_previous_sign_in(live_server, db) -> None:
    first = signed_in(live_server, "heping", name="何平")
    assert "这是您的首次登录" in first.get("/").text
    second = sign_in_again(live_server, "heping")
    page = second.get("/").text
    assert "这是您的首次登录" not in page
    assert "127.0.0.1" in page
    assert "密码有效期" in page


def test_profile_widget_names_the_previous_sign_in_and_the_password_expiry(db) -> None:
    import dataclasses
    import datetime as dt

    from app.auth import sessions
    from app.core.context import SYSTEM_CONTEXT
    from app.org.models import Position, User
    from app.portal.service import load_profile
    from tests.support.accounts import ctx_for

    user = make_user("wangfang", name="王芳")
    run_in_transaction(lambda: User.update(position=Position.create(
        name="副科长", sort_order=1)).where(User.id == user.id).execute())
    profile = run_in_transaction(load_profile, ctx_for(user))
    assert (profile["name"], profile["position"], profile["last_login_at"]) == (
        "王芳", "副科长", None)  # no earlier sign-in yet
    assert profile["department"] and profile["password_days_left"] >= 89

    for ip in ("10.8.0.1", "10.8.0.2"):
        run_in_transaction(sessions.create_session,
                           dataclasses.replace(SYSTEM_CONTEXT, ip=ip), user.id)
    profile = run_in_transaction(load_profile, ctx_for(user))
    assert profile["last_login_ip"] == "10.8.0.1"  # the sign-in before this one
    assert profile["last_login_at"] <= dt.datetime.now(dt.UTC)


def test_a_failing_widget_shows_a_notice_and_the_others_load_with_their_writes(db) -> None:
    from app.audit.service import record
    from app.core.db import database
    from app.core.errors import PermissionDenied
    from app.core.features import Widget
    from app.portal.service import load_desktop
    from tests.support.accounts import ctx_for

    def audited(ctx) -> dict:
        record(ctx, "portal.test.widget")
        return {"n": database.execute_sql("SELECT 1").fetchone()[0]}

    def bad_sql(ctx) -> dict:
        database.execute_sql("SELECT no_such_column FROM portal_layout")
        return {}

    def broken(ctx) -> dict:
        raise RuntimeError("widget bug")

    def refused(ctx) -> dict:
        raise PermissionDenied(message="无权查看")

    widgets = [Widget(key=key, title=key, template="portal/widget_profile.html", load=load)
               for key, load in (("first", audited), ("sql", bad_sql), ("refused", refused),
                                 ("bug", broken), ("last", audited))]
    ctx = ctx_for(make_user("zhaoliu"))
    run_in_transaction(lambda: database.execute_sql(
        "INSERT INTO portal_layout (user_id, widgets, updated_at) VALUES (%s, %s, now())",
        (ctx.user_id, ["first", "sql", "refused", "bug", "last"])))

    loaded = run_in_transaction(load_desktop, ctx, widgets)
    assert [(w.widget.key, w.failed, w.values) for w in loaded] == [
        ("first", False, {"n": 1}), ("sql", True, {}), ("bug", True, {}),
        ("last", False, {"n": 1})]
    # the good widgets' writes were kept exactly once, whatever the retries discarded
    assert audit_actions().count("portal.test.widget") == 2
