"""The demo accounts: documented in the README, loadable twice."""

from __future__ import annotations

from app.core.db import run_in_transaction
from app.core.features import ordered
from app.features import installed_features
from tests.support.accounts import login, login_response


def load_all_demos() -> None:
    for feature in ordered(installed_features()):
        if feature.demo is not None:
            run_in_transaction(feature.demo)


def test_demo_accounts(client, live_server, sql):
    load_all_demos()
    load_all_demos()  # idempotent
    roles = dict(sql.run("SELECT u.username, r.code FROM user_role ur "
                         "JOIN app_user u ON u.id = ur.user_id JOIN role r ON r.id = ur.role_id "
                         "WHERE r.admin_kind IS NOT NULL"))
    assert roles == {"sysadmin": "sysadmin", "secadmin": "secadmin", "auditor": "auditor"}
    assert sql.one("SELECT count(*) FROM app_user") >= 40
    assert sql.one("SELECT count(*) FROM app_user u WHERE NOT EXISTS "
                   "(SELECT 1 FROM credential c WHERE c.user_id = u.id)") == 0
    assert sql.one("SELECT count(*) FROM totp") == 0
    staff = sql.one("SELECT u.username FROM app_user u JOIN user_role ur ON ur.user_id = u.id "
                    "JOIN role r ON r.id = ur.role_id WHERE r.code = 'staff' "
                    "AND u.username <> 'xinren' ORDER BY u.id LIMIT 1")
    login(client, staff, "Demo@2026")
    assert client.get("/", allow_redirects=False).status_code == 200
    newcomer = live_server.client()
    login(newcomer, "xinren", "Demo@2026")
    assert newcomer.get("/", allow_redirects=False).headers["Location"] == "/account/password"
    admin = live_server.client()
    assert login_response(admin, "sysadmin", "Demo@2026").status_code == 302
    assert admin.get("/", allow_redirects=False).headers["Location"] == "/account/totp"
