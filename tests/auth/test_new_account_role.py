"""A person the 系统管理员 creates gets the 普通用户 role at once (auth reacts to org's event),
and can sign in after the administrator generates the one-time initial password."""

import re

from app.core.db import run_in_transaction
from app.org.models import User
from tests.conftest import Client, LiveServer
from tests.support.accounts import default_department, login, make_user, totp_secret


def test_created_person_is_staff_and_can_sign_in_after_reset(
    client: Client, live_server: LiveServer
) -> None:
    admin = make_user("sysadmin1", roles=("sysadmin",), totp=True)
    department = run_in_transaction(default_department)
    login(client, "sysadmin1", totp_secret=totp_secret(admin))
    created = client.post("/api/org/users", json={
        "username": "xinyuan", "employee_no": "990001", "name": "新员",
        "department_id": department.id,
    })
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]

    reset = client.post(f"/admin/users/{user_id}/reset-password", allow_redirects=True)
    assert reset.status_code == 200
    initial = re.search(r'id="initial-password"[^>]*>([^<]+)<', reset.text)
    assert initial, "the one-time password is shown to the administrator"

    person = live_server.client()
    login(person, "xinyuan", password=initial.group(1).strip())
    assert person.get("/account/password").status_code == 200
    changed = person.post("/account/password", data={
        "old_password": initial.group(1).strip(), "new_password": "Qingtian@2026a",
        "confirm_password": "Qingtian@2026a"})
    assert changed.status_code == 302
    book = person.get("/addressbook?q=xy", allow_redirects=False)
    assert book.status_code == 200
    assert "新员" in book.text
    assert run_in_transaction(lambda: User.get_by_id(user_id).status) == "active"
