"""Password policy, history, expiry with warnings, forced change."""

from __future__ import annotations

import itertools

import pytest

from app.auth.passwords import hash_password, policy_problem, verify_password
from tests.auth.conftest import audit_actions, field_errors
from tests.support.accounts import DEFAULT_PASSWORD, login, login_response, make_user


@pytest.mark.parametrize(("password", "message"), [
    ("Ab1@xyz", "密码至少需要8个字符"),
    ("abcdefgh12", "密码须包含大写字母、小写字母、数字、符号中的至少3类"),
    ("ABCDEFGH!!", "密码须包含大写字母、小写字母、数字、符号中的至少3类"),
    ("Xzhangsan1!", "密码不能包含用户名"),
    ("Good pass 1", "密码不能包含空格等空白字符"),
])
def test_policy_rules_in_chinese(password, message):
    assert policy_problem(password, "zhangsan") == message


def test_policy_accepts_three_classes():
    assert policy_problem("abcdefg1!", "zhangsan") is None
    assert policy_problem("Abcdefgh1", "zhangsan") is None


def test_hash_is_argon2id_and_verifies():
    stored = hash_password("Secret@2026")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "Secret@2026")
    assert not verify_password(stored, "secret@2026")
    assert not verify_password(None, "Secret@2026")


def change(client, old: str, new: str, confirm: str | None = None):
    return client.post("/account/password", data={
        "old_password": old, "new_password": new, "confirm_password": confirm or new})


def test_change_password_checks_every_rule(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    wrong_old = change(client, "Nope@2026x", "Fresh@2026a")
    assert wrong_old.status_code == 400 and "当前密码不正确" in field_errors(wrong_old.text)
    weak = change(client, DEFAULT_PASSWORD, "short1A")
    assert "密码至少需要8个字符" in field_errors(weak.text)
    mismatch = change(client, DEFAULT_PASSWORD, "Fresh@2026a", "Fresh@2026b")
    assert "两次输入的新密码不一致" in field_errors(mismatch.text)
    same = change(client, DEFAULT_PASSWORD, DEFAULT_PASSWORD)
    assert "新密码不能与最近使用过的密码相同" in field_errors(same.text)
    ok = change(client, DEFAULT_PASSWORD, "Fresh@2026a")
    assert ok.status_code == 302
    actions = audit_actions(sql)
    assert ("auth.password.change", "success") in actions
    assert ("auth.password.change", "failure") in actions
    client.post("/logout")
    assert login_response(client, "zhangsan", "Fresh@2026a").status_code == 302


def test_none_of_the_last_five_passwords(client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    history = [DEFAULT_PASSWORD, "Second@2026", "Third@2026", "Fourth@2026", "Fifth@2026"]
    for old, new in itertools.pairwise(history):
        assert change(client, old, new).status_code == 302
    # the current one and the four before it are refused...
    for earlier in history:
        refused = change(client, "Fifth@2026", earlier)
        assert "新密码不能与最近使用过的密码相同" in field_errors(refused.text), earlier
    # ...a sixth one frees the oldest
    assert change(client, "Fifth@2026", "Sixth@2026").status_code == 302
    assert change(client, "Sixth@2026", DEFAULT_PASSWORD).status_code == 302


def test_first_login_forces_a_change(client):
    make_user("zhangsan", roles=("staff",), must_change=True)
    login(client, "zhangsan")
    forced = client.get("/", allow_redirects=False)
    assert forced.status_code == 302 and forced.headers["Location"] == "/account/password"
    page = client.get("/account/password")
    assert "请先设置新密码" in page.text
    assert change(client, DEFAULT_PASSWORD, "Fresh@2026a").status_code == 302
    assert client.get("/account", allow_redirects=False).status_code == 200


def test_expired_password_forces_a_change_and_warning_comes_before(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    sql.run("UPDATE credential SET changed_at = now() - interval '85 days'")
    warned = client.get("/account", allow_redirects=False)
    assert warned.status_code == 200
    assert "您的密码将在 5 天后过期" in warned.text
    sql.run("UPDATE credential SET changed_at = now() - interval '80 days'")
    assert "将在" not in client.get("/account", allow_redirects=False).text
    sql.run("UPDATE credential SET changed_at = now() - interval '91 days'")
    expired = client.get("/account", allow_redirects=False)
    assert expired.status_code == 302 and expired.headers["Location"] == "/account/password"


def test_password_change_ends_other_sessions(client, live_server):
    make_user("zhangsan", roles=("staff",))
    other = live_server.client()
    login(other, "zhangsan")
    login(client, "zhangsan")
    assert change(client, DEFAULT_PASSWORD, "Fresh@2026a").status_code == 302
    assert client.get("/account", allow_redirects=False).status_code == 200
    assert other.get("/account", allow_redirects=False).status_code == 302


def test_admin_reset_forces_a_change(client, live_server, sql):
    from tests.support.accounts import totp_secret

    target = make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    admin_user = make_user("sys", roles=("sysadmin",), totp=True)
    admin = live_server.client()
    login(admin, "sys", totp_secret=totp_secret(admin_user))
    page = admin.post(f"/admin/users/{target.id}/reset-password")
    assert page.status_code == 200
    initial = page.text.split('<code id="initial-password">')[1].split("</code>")[0]
    assert policy_problem(initial, "zhangsan") is None
    # the user's session ended; the new password works and must be changed
    assert client.get("/account", allow_redirects=False).status_code == 302
    login(client, "zhangsan", initial)
    assert client.get("/", allow_redirects=False).headers["Location"] == "/account/password"
    assert ("auth.password.reset", "success") in audit_actions(sql)
