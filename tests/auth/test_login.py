"""Login: generic failure message, captcha from the first failure, lockout and unlock."""

from __future__ import annotations

from tests.auth.conftest import audit_actions, field_errors
from tests.support.accounts import login, login_response, make_user, solve_captcha

GENERIC = "用户名或密码错误"
LOCKED = "账号已被锁定"


def fail_with_captcha(client, username: str, times: int) -> list[str]:
    messages = []
    for _ in range(times):
        answer = solve_captcha(client)
        response = login_response(client, username, "Wrong@pass1", answer)
        assert response.status_code == 400
        messages.append(" ".join(field_errors(response.text)))
    return messages


def test_right_password_signs_in_with_a_new_session_cookie(client, sql):
    make_user("zhangsan", roles=("staff",))
    before = client.get("/login")
    assert before.status_code == 200 and "登录" in before.text
    assert 'name="captcha"' not in before.text
    response = login_response(client, "zhangsan", next_url="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    cookie = response.headers["Set-Cookie"]
    assert "oa_sid=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = client.cookies["oa_sid"]
    assert len(token) >= 43  # 256 bits, url-safe base64
    assert sql.one("SELECT count(*) FROM user_session WHERE token_hash = encode("
                   "sha256(convert_to(%s, 'UTF8')), 'hex')", token) == 1
    assert client.get("/account").status_code == 200
    assert ("auth.login.success", "success") in audit_actions(sql)


def test_next_must_stay_on_this_site(client):
    make_user("zhangsan", roles=("staff",))
    response = login_response(client, "zhangsan", next_url="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_same_message_for_unknown_and_known_accounts(client, live_server, sql):
    make_user("zhangsan", roles=("staff",))
    known = login_response(client, "zhangsan", "Wrong@pass1")
    sql.run("DELETE FROM login_throttle WHERE kind = 'ip'")  # as if from another address
    unknown = login_response(live_server.client(), "nobody", "Wrong@pass1")
    assert known.status_code == unknown.status_code == 400
    assert field_errors(known.text) == field_errors(unknown.text) == [GENERIC]
    failures = [a for a in audit_actions(sql) if a[0] == "auth.login.failure"]
    assert len(failures) == 2


def test_captcha_is_required_after_the_first_failure(client, sql):
    make_user("zhangsan", roles=("staff",))
    first = login_response(client, "zhangsan", "Wrong@pass1")
    assert 'name="captcha"' in first.text
    assert 'data-refresh="/login/captcha"' in first.text
    # right password, but no captcha: refused
    missing = login_response(client, "zhangsan")
    assert missing.status_code == 400 and "验证码" in " ".join(field_errors(missing.text))
    # right password, wrong captcha: refused
    solve_captcha(client)
    wrong = login_response(client, "zhangsan", captcha_answer="ZZZZ")
    assert wrong.status_code == 400 and "验证码" in " ".join(field_errors(wrong.text))
    assert "oa_sid" not in client.cookies
    # a solved captcha is used once only, right or wrong
    answer = solve_captcha(client)
    token = client.cookies["oa_captcha"]
    assert login_response(client, "zhangsan", "Wrong@pass1", answer).status_code == 400
    client.cookies.set("oa_captcha", token, domain="127.0.0.1", path="/login")
    assert client.cookies.get("oa_captcha") == token
    replay = login_response(client, "zhangsan", captcha_answer=answer)
    assert replay.status_code == 400 and "验证码" in " ".join(field_errors(replay.text))
    assert "oa_sid" not in client.cookies
    # a fresh one lets the right password in, and clears the counters
    assert login_response(client, "zhangsan",
                          captcha_answer=solve_captcha(client)).status_code == 302
    client.cookies.clear(domain="127.0.0.1", path="/", name="oa_sid")
    assert 'name="captcha"' not in client.get("/login").text


def test_captcha_follows_the_client_across_account_names(client):
    make_user("zhangsan", roles=("staff",))
    make_user("lisi", roles=("staff",))
    login_response(client, "zhangsan", "Wrong@pass1")
    switched = login_response(client, "lisi")  # another name, same client, no captcha
    assert switched.status_code == 400
    assert "验证码" in " ".join(field_errors(switched.text))
    assert 'name="captcha"' in client.get("/login").text


def test_captcha_follows_the_account_name_across_clients(client, live_server, sql):
    make_user("zhangsan", roles=("staff",))
    login_response(client, "zhangsan", "Wrong@pass1")
    sql.run("DELETE FROM login_throttle WHERE kind = 'ip'")  # as if from another address
    other = live_server.client()
    assert 'name="captcha"' not in other.get("/login").text
    response = login_response(other, "zhangsan")
    assert response.status_code == 400
    assert "验证码" in " ".join(field_errors(response.text))


def test_five_failures_lock_the_account_and_time_unlocks_it(client, sql):
    make_user("zhangsan", roles=("staff",))
    messages = fail_with_captcha(client, "zhangsan", 5)
    assert messages[:4] == [GENERIC] * 4
    assert LOCKED in messages[4]
    # the right password does not help while locked
    answer = solve_captcha(client)
    locked = login_response(client, "zhangsan", captcha_answer=answer)
    assert locked.status_code == 400 and LOCKED in " ".join(field_errors(locked.text))
    actions = audit_actions(sql)
    assert actions.count(("auth.account.lock", "failure")) == 1
    assert actions.count(("auth.login.failure", "failure")) == 6
    # 30 minutes later
    sql.run("UPDATE credential SET locked_until = now() - interval '1 second'")
    sql.run("UPDATE login_throttle SET last_failure_at = now() - interval '31 minutes'")
    login(client, "zhangsan")
    assert sql.one("SELECT failed_count FROM credential") == 0


def test_unknown_names_lock_like_real_ones(client):
    messages = fail_with_captcha(client, "nobody", 5)
    assert messages[:4] == [GENERIC] * 4 and LOCKED in messages[4]
    answer = solve_captcha(client)
    again = login_response(client, "nobody", captcha_answer=answer)
    assert LOCKED in " ".join(field_errors(again.text))


def test_lockout_threshold_is_configurable(client, settings_override):
    settings_override(lockout_threshold=2)
    make_user("zhangsan", roles=("staff",))
    messages = fail_with_captcha(client, "zhangsan", 2)
    assert messages[0] == GENERIC and LOCKED in messages[1]


def test_system_administrator_unlocks(client, live_server, sql):
    target = make_user("zhangsan", roles=("staff",))
    fail_with_captcha(client, "zhangsan", 5)
    assert sql.one("SELECT locked_until > now() FROM credential WHERE user_id = %s", target.id)
    make_user("sys", roles=("sysadmin",), totp=True)
    from tests.support.accounts import totp_secret

    admin = live_server.client()
    login(admin, "sys", totp_secret=totp_secret(sql_user_id(sql, "sys")))
    response = admin.post(f"/admin/users/{target.id}/unlock")
    assert response.status_code == 302
    assert sql.one("SELECT locked_until FROM credential WHERE user_id = %s", target.id) is None
    assert ("auth.account.unlock", "success") in audit_actions(sql)
    login(client, "zhangsan")


def test_disabled_user_cannot_sign_in(client, sql):
    make_user("zhangsan", roles=("staff",))
    sql.run("UPDATE app_user SET status = 'disabled' WHERE username = 'zhangsan'")
    response = login_response(client, "zhangsan")
    assert response.status_code == 400
    assert field_errors(response.text) == [GENERIC]


def test_disabling_ends_live_sessions(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    sql.run("UPDATE app_user SET status = 'disabled' WHERE username = 'zhangsan'")
    response = client.get("/account", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def sql_user_id(sql, username: str) -> int:
    return int(sql.one("SELECT id FROM app_user WHERE username = %s", username))
