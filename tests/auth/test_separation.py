"""三员分立 and least privilege: each administrator only within its duty, never two at once."""

from __future__ import annotations

import psycopg2
import pytest

from app.auth import roles
from app.auth.models import Role
from app.core.context import Principal, RequestContext
from app.core.db import connect_params, run_in_transaction
from app.core.errors import PermissionDenied, ValidationError
from app.core.features import Duty, Scope
from app.features import installed_features
from tests.auth.conftest import field_errors
from tests.support.accounts import login, make_user, totp_secret


def admin_client(live_server, username: str, role: str):
    user = make_user(username, roles=(role,), totp=True)
    client = live_server.client()
    login(client, username, totp_secret=totp_secret(user))
    return client


def status(client, method: str, url: str, **kwargs) -> int:
    return client.request(method, url, allow_redirects=False, **kwargs).status_code


def test_built_in_roles_hold_exactly_their_duty(db):
    make_user("someone", roles=("staff",))  # syncs the built-in roles
    declared = roles.declared_permissions(installed_features())

    def grants(code: str) -> dict[str, str]:
        role = Role.get(Role.code == code)
        return {g.permission: g.scope for g in role.grants}

    held = run_in_transaction(lambda: {c: grants(c) for c in roles.BUILT_IN})
    for kind, duty in roles.ADMIN_DUTY.items():
        expected = {c for c, p in declared.items() if p.duty == duty}
        assert set(held[kind]) == expected, kind
        assert set(held[kind].values()) == {"all"}
    everyday = {c for c, p in declared.items() if p.duty == Duty.BUSINESS and p.staff_default}
    assert set(held["staff"]) == everyday
    # wider business permissions (all of a department's 公文, monitoring every flow) are granted
    # deliberately by the 安全管理员, never by default
    assert {"documents.admin", "workflow.monitor"} <= set(declared) - everyday
    # no role anywhere mixes duties: there is no super-user
    for code, permissions in held.items():
        duties = {declared[p].duty for p in permissions}
        assert len(duties) <= 1, code


def test_sync_is_idempotent_and_keeps_the_security_admins_choices(db):
    make_user("someone", roles=("staff",))
    first = run_in_transaction(lambda: Role.select().count())

    def narrow_staff() -> None:
        staff = Role.get(Role.code == "staff")
        roles.RolePermission.delete().where(roles.RolePermission.role == staff).execute()

    run_in_transaction(narrow_staff)
    run_in_transaction(roles.sync_built_in_roles)
    run_in_transaction(roles.sync_built_in_roles)
    assert run_in_transaction(lambda: Role.select().count()) == first
    staff_grants = run_in_transaction(
        lambda: roles.RolePermission.select().join(Role).where(Role.code == "staff").count())
    assert staff_grants == 0


def test_system_administrator_stays_in_its_duty(live_server, db):
    target = make_user("zhangsan", roles=("staff",))
    sysadmin = admin_client(live_server, "sys", "sysadmin")
    assert status(sysadmin, "GET", "/admin/org/users") == 200
    assert status(sysadmin, "POST", f"/admin/users/{target.id}/unlock") == 302
    for url in ("/admin/roles", "/admin/user-roles", "/admin/sessions", "/audit",
                f"/admin/users/{target.id}/roles", "/addressbook"):
        assert status(sysadmin, "GET", url) == 403, url
    assert status(sysadmin, "POST", f"/admin/users/{target.id}/roles",
                  data={"roles": "1"}) == 403


def test_security_administrator_stays_in_its_duty(live_server, db):
    target = make_user("zhangsan", roles=("staff",))
    secadmin = admin_client(live_server, "sec", "secadmin")
    for url in ("/admin/roles", "/admin/user-roles", "/admin/sessions",
                f"/admin/users/{target.id}/roles"):
        assert status(secadmin, "GET", url) == 200, url
    for url in ("/admin/org/users", "/audit", "/addressbook"):
        assert status(secadmin, "GET", url) == 403, url
    for url in (f"/admin/users/{target.id}/unlock", f"/admin/users/{target.id}/reset-password"):
        assert status(secadmin, "POST", url) == 403, url


def test_auditor_reads_the_audit_log_and_changes_nothing(live_server, db):
    target = make_user("zhangsan", roles=("staff",))
    auditor = admin_client(live_server, "aud", "auditor")
    assert status(auditor, "GET", "/audit") == 200
    for url in ("/admin/roles", "/admin/sessions", "/admin/org/users", "/addressbook"):
        assert status(auditor, "GET", url) == 403, url
    for url in ("/admin/roles/new", f"/admin/users/{target.id}/unlock",
                f"/admin/users/{target.id}/reset-password", f"/admin/users/{target.id}/roles"):
        assert status(auditor, "POST", url, data={"code": "x", "name": "x"}) == 403, url


def test_one_account_cannot_hold_two_administrator_roles_via_the_page(live_server, db):
    target = make_user("zhangsan", roles=("auditor",))
    secadmin = admin_client(live_server, "sec", "secadmin")
    ids = run_in_transaction(lambda: {r.code: r.id for r in Role.select()})
    response = secadmin.post(f"/admin/users/{target.id}/roles",
                             data={"roles": [str(ids["auditor"]), str(ids["sysadmin"])]})
    assert response.status_code == 400
    assert roles.EXCLUSIVE_MESSAGE in field_errors(response.text)
    mixed = secadmin.post(f"/admin/users/{target.id}/roles",
                          data={"roles": [str(ids["auditor"]), str(ids["staff"])]})
    assert mixed.status_code == 400
    held = run_in_transaction(lambda: [r.code for r in Role.select().join(roles.UserRole)
                                       .where(roles.UserRole.user == target.id)])
    assert held == ["auditor"]


def test_one_account_cannot_hold_two_administrator_roles_via_the_service(db):
    target = make_user("zhangsan")
    actor = make_user("sec", roles=("secadmin",))
    ctx = RequestContext(Principal(actor.id, "sec", "sec", None, "1",
                                   permissions={roles.ROLE_ASSIGN: Scope.ALL}))
    ids = run_in_transaction(lambda: {r.code: r.id for r in Role.select()})
    with pytest.raises(ValidationError) as raised:
        run_in_transaction(roles.assign_roles, ctx, target.id, [ids["sysadmin"], ids["secadmin"]])
    assert raised.value.fields["roles"] == roles.EXCLUSIVE_MESSAGE
    with pytest.raises(PermissionDenied):  # nobody changes their own roles
        run_in_transaction(roles.assign_roles, ctx, actor.id, [ids["sysadmin"]])


def test_the_database_refuses_two_administrator_roles_on_one_account(pg, db):
    target = make_user("zhangsan", roles=("sysadmin",))
    conn = psycopg2.connect(**connect_params(pg.runtime_url))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM role WHERE code = 'auditor'")
            auditor_id = cur.fetchone()[0]
            with pytest.raises(psycopg2.errors.UniqueViolation):
                # even a writer that lies about admin_kind: the trigger copies the truth
                cur.execute("INSERT INTO user_role (user_id, role_id, admin_kind) "
                            "VALUES (%s, %s, NULL)", (target.id, auditor_id))
    finally:
        conn.close()
    owner = psycopg2.connect(**connect_params(pg.superuser_url))
    try:
        with owner, owner.cursor() as cur, pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO user_role (user_id, role_id) SELECT %s, id FROM role "
                        "WHERE code = 'secadmin'", (target.id,))
    finally:
        owner.close()


def test_business_roles_cannot_carry_administrator_permissions(live_server, db):
    secadmin = admin_client(live_server, "sec", "secadmin")
    refused = secadmin.post("/admin/roles/new", data={
        "code": "clerk", "name": "文书", "scope_org.addressbook.view": "all",
        "scope_org.manage": "all"})
    assert refused.status_code == 400
    assert any("属于管理员职责" in e for e in field_errors(refused.text))
    created = secadmin.post("/admin/roles/new", data={
        "code": "clerk", "name": "文书", "scope_org.addressbook.view": "subtree"})
    assert created.status_code == 302
    sysadmin_id = run_in_transaction(lambda: Role.get(Role.code == "sysadmin").id)
    assert status(secadmin, "POST", f"/admin/roles/{sysadmin_id}",
                  data={"name": "超级管理员", "scope_audit.view": "all"}) == 403
    page = secadmin.get(created.headers["Location"])
    assert 'value="subtree" selected' in page.text


def test_widest_scope_wins_across_roles(db):
    user = make_user("zhangsan", roles=("staff",))
    ctx = RequestContext(Principal(0, "sec", "sec", None, "1",
                                   permissions={roles.ROLE_MANAGE: Scope.ALL}))
    run_in_transaction(roles.create_role, ctx, "leader", "领导", "",
                       {"org.addressbook.view": "all"})
    both = run_in_transaction(lambda: list(Role.select().where(
        Role.code.in_(["leader", "staff"]))))
    run_in_transaction(roles.write_user_roles, user.id, both, None)
    permissions, admin, _ = run_in_transaction(roles.user_permissions, user.id)
    assert permissions["org.addressbook.view"] == Scope.ALL and admin is None


def test_system_administrator_cannot_reset_another_administrators_password(live_server, db):
    other = make_user("sec", roles=("secadmin",))
    sysadmin = admin_client(live_server, "sys", "sysadmin")
    assert status(sysadmin, "POST", f"/admin/users/{other.id}/reset-password") == 403


def test_new_accounts_get_the_staff_role_once(db):
    user = make_user("newbie")
    ctx = RequestContext(None, ip="test")
    assert run_in_transaction(roles.grant_default_role, ctx, user.id) is True
    assert run_in_transaction(roles.grant_default_role, ctx, user.id) is False
    _, admin, codes = run_in_transaction(roles.user_permissions, user.id)
    assert codes == ["staff"] and admin is None
