"""The 安全管理员's pages: roles, role assignment; the API of one's own sessions."""

from __future__ import annotations

import re

from app.auth.models import Role
from app.core.db import run_in_transaction
from tests.auth.conftest import audit_actions, field_errors
from tests.support.accounts import login, make_user, totp_secret


def secadmin(live_server):
    user = make_user("sec", roles=("secadmin",), totp=True)
    client = live_server.client()
    login(client, "sec", totp_secret=totp_secret(user))
    return client


def test_role_lifecycle_and_assignment(live_server, db, sql):
    client = secadmin(live_server)
    target = make_user("zhangsan", name="张三", roles=("staff",))
    listing = client.get("/admin/roles")
    assert listing.status_code == 200
    for title in ("普通用户", "系统管理员", "安全管理员", "安全审计员"):
        assert title in listing.text
    form = client.get("/admin/roles/new")
    assert 'name="scope_org.addressbook.view"' in form.text
    assert 'name="scope_org.manage"' not in form.text  # an admin duty: not offered
    bad = client.post("/admin/roles/new", data={"code": "Bad Code", "name": ""})
    assert bad.status_code == 400 and "请填写角色名称" in field_errors(bad.text)
    created = client.post("/admin/roles/new", data={
        "code": "clerk", "name": "文书", "description": "收发文",
        "scope_org.addressbook.view": "department"})
    assert created.status_code == 302
    role_id = int(re.search(r"/admin/roles/(\d+)", created.headers["Location"]).group(1))
    duplicate = client.post("/admin/roles/new", data={"code": "clerk2", "name": "文书"})
    assert "已有同名角色" in field_errors(duplicate.text)
    found = client.get("/admin/user-roles", params={"q": "zs"})
    assert "张三" in found.text
    page = client.get(f"/admin/users/{target.id}/roles")
    assert page.status_code == 200 and 'name="roles"' in page.text
    staff_id = run_in_transaction(lambda: Role.get(Role.code == "staff").id)
    saved = client.post(f"/admin/users/{target.id}/roles",
                        data={"roles": [str(staff_id), str(role_id)]})
    assert saved.status_code == 302
    in_use = client.post(f"/admin/roles/{role_id}/delete")
    assert in_use.status_code == 409
    client.post(f"/admin/users/{target.id}/roles", data={"roles": str(staff_id)})
    assert client.post(f"/admin/roles/{role_id}/delete").status_code == 302
    assert client.post(f"/admin/roles/{staff_id}/delete").status_code == 403  # built in
    actions = [a for a, _ in audit_actions(sql)]
    for action in ("auth.role.create", "auth.user_role.assign", "auth.role.delete"):
        assert action in actions
    assert client.get("/admin/roles/999999").status_code == 404


def test_own_sessions_api(client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    body = client.get("/api/auth/sessions").json()
    assert len(body["sessions"]) == 1 and body["sessions"][0]["current"] is True


def test_account_hub_links(client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    page = client.get("/account")
    for link in ("/account/password", "/account/totp", "/account/sessions"):
        assert f'href="{link}"' in page.text
