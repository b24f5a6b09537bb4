"""TOTP enrolment by QR code, single-use codes, recovery codes, forced for administrators."""

from __future__ import annotations

import re

import pyotp

from tests.auth.conftest import audit_actions, field_errors
from tests.support.accounts import fresh_code, login, login_response, make_user, totp_secret


def enrol(client) -> tuple[str, list[str]]:
    page = client.get("/account/totp")
    assert page.status_code == 200
    assert re.search(r'<img id="totp-qr" src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"',
                     page.text)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    done = client.post("/account/totp", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, field_errors(done.text)
    block = done.text.split('<ul id="recovery-codes"')[1].split("</ul>")[0]
    codes = re.findall(r"<li>([a-z0-9-]+)</li>", block)
    return secret, codes


def test_administrator_is_forced_to_enrol_and_then_asked_for_codes(client, sql):
    make_user("sec", roles=("secadmin",))
    login(client, "sec")
    forced = client.get("/admin/roles", allow_redirects=False)
    assert forced.status_code == 302 and forced.headers["Location"] == "/account/totp"
    wrong = client.post("/account/totp", data={"code": "000000"})
    assert wrong.status_code == 400
    _, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/admin/roles", allow_redirects=False).status_code == 200
    assert ("auth.totp.enrol", "success") in audit_actions(sql)
    # codes are stored hashed only
    stored = [row[0] for row in sql.run("SELECT code_hash FROM recovery_code")]
    assert len(stored) == 10 and not set(codes) & set(stored)
    # the next login asks for the code
    client.post("/logout")
    step = login_response(client, "sec")
    assert step.status_code == 302 and step.headers["Location"].startswith("/login/totp")
    assert "oa_sid" not in client.cookies
    assert client.get("/admin/roles", allow_redirects=False).status_code == 302


def test_a_code_works_once(client, live_server):
    user = make_user("zhangsan", roles=("staff",), totp=True)
    secret = totp_secret(user)
    code = fresh_code(secret, user)
    first = login_response(client, "zhangsan")
    assert client.post(first.headers["Location"], data={"code": code}).status_code == 302
    other = live_server.client()
    second = login_response(other, "zhangsan")
    replay = other.post(second.headers["Location"], data={"code": code})
    assert replay.status_code == 400
    assert "动态口令不正确或已使用过" in field_errors(replay.text)
    assert "oa_sid" not in other.cookies


def test_wrong_codes_count_towards_the_lockout(client, sql):
    user = make_user("zhangsan", roles=("staff",), totp=True)
    step = login_response(client, "zhangsan")
    for _ in range(4):
        assert client.post(step.headers["Location"], data={"code": "123456"}).status_code == 400
    last = client.post(step.headers["Location"], data={"code": "123456"})
    assert last.status_code == 302 and last.headers["Location"] == "/login"
    assert sql.one("SELECT locked_until > now() FROM credential WHERE user_id = %s", user.id)


def test_recovery_code_works_once(client, live_server):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    _, codes = enrol(client)
    client.post("/logout")
    step = login_response(client, "zhangsan")
    used = client.post(step.headers["Location"], data={"code": codes[0]})
    assert used.status_code == 302 and client.cookies.get("oa_sid")
    other = live_server.client()
    step = login_response(other, "zhangsan")
    again = other.post(step.headers["Location"], data={"code": codes[0]})
    assert again.status_code == 400
    page = client.get("/account")
    assert "剩余恢复码 9 个" in page.text


def test_totp_step_cookie_expires_with_the_pending_session(client, sql):
    user = make_user("zhangsan", roles=("staff",), totp=True)
    step = login_response(client, "zhangsan")
    sql.run("UPDATE user_session SET expires_at = now() - interval '1 second'")
    late = client.post(step.headers["Location"],
                       data={"code": fresh_code(totp_secret(user), user)})
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert "oa_sid" not in client.cookies


def test_enrolled_secret_is_not_shown_again(client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    enrol(client)
    page = client.get("/account/totp")
    assert 'id="totp-secret"' not in page.text and "已绑定" in page.text
