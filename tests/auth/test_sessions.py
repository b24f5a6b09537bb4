"""Server-side sessions: idle and absolute expiry, revocation, logout, the per-user limit."""

from __future__ import annotations

import re

from tests.auth.conftest import audit_actions
from tests.support.accounts import login, make_user


def signed_in(client) -> bool:
    return client.get("/account", allow_redirects=False).status_code == 200


def test_idle_timeout(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    sql.run("UPDATE user_session SET last_seen_at = now() - interval '29 minutes'")
    assert signed_in(client)  # and this touches last_seen_at
    sql.run("UPDATE user_session SET last_seen_at = now() - interval '31 minutes'")
    assert not signed_in(client)
    assert sql.one("SELECT ended_reason FROM user_session") == "idle"


def test_last_seen_is_written_at_most_once_a_minute(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    sql.run("UPDATE user_session SET last_seen_at = now() - interval '50 seconds'")
    assert signed_in(client)
    assert sql.one("SELECT extract(epoch FROM now() - last_seen_at) FROM user_session") > 49
    sql.run("UPDATE user_session SET last_seen_at = now() - interval '61 seconds'")
    assert signed_in(client)
    assert sql.one("SELECT extract(epoch FROM now() - last_seen_at) FROM user_session") < 5
    sql.run("UPDATE user_session SET last_seen_at = now() - interval '61 seconds',"
            " ended_at = now(), ended_reason = 'logout'")
    assert not signed_in(client)  # an ended session is neither let in nor touched
    assert sql.one("SELECT extract(epoch FROM now() - last_seen_at) FROM user_session") > 60


def test_absolute_timeout(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    assert sql.one("SELECT round(extract(epoch FROM expires_at - created_at) / 3600) "
                   "FROM user_session") == 12
    sql.run("UPDATE user_session SET expires_at = now() - interval '1 second'")
    assert not signed_in(client)
    assert sql.one("SELECT ended_reason FROM user_session") == "expired"


def test_logout_ends_the_server_session(client, sql):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    token = client.cookies["oa_sid"]
    assert client.get("/logout").status_code == 405  # POST only
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    client.cookies.set("oa_sid", token)  # a copied cookie is worthless now
    assert not signed_in(client)
    assert sql.one("SELECT ended_reason FROM user_session") == "logout"
    assert ("auth.logout", "success") in audit_actions(sql)


def test_user_ends_own_session_from_another_device(client, live_server, sql):
    make_user("zhangsan", roles=("staff",))
    phone = live_server.client()
    login(phone, "zhangsan")
    login(client, "zhangsan")
    page = client.get("/account/sessions")
    ids = re.findall(r'data-session-id="(\d+)"', page.text)
    assert len(ids) == 2 and "当前" in page.text
    phone_id = sql.one("SELECT id FROM user_session ORDER BY id LIMIT 1")
    assert client.post(f"/account/sessions/{phone_id}/end").status_code == 302
    assert not signed_in(phone) and signed_in(client)
    assert ("auth.session.end", "success") in audit_actions(sql)


def test_user_cannot_end_another_users_session(client, live_server, sql):
    make_user("zhangsan", roles=("staff",))
    make_user("lisi", roles=("staff",))
    victim = live_server.client()
    login(victim, "lisi")
    victim_session = sql.one("SELECT id FROM user_session")
    login(client, "zhangsan")
    refused = client.post(f"/account/sessions/{victim_session}/end")
    assert refused.status_code == 403
    assert signed_in(victim)
    assert f'data-session-id="{victim_session}"' not in client.get("/account/sessions").text


def test_security_administrator_ends_anyones_session(client, live_server, sql):
    from tests.support.accounts import totp_secret

    make_user("lisi", roles=("staff",))
    victim = live_server.client()
    login(victim, "lisi")
    victim_session = sql.one("SELECT id FROM user_session")
    admin = make_user("sec", roles=("secadmin",), totp=True)
    login(client, "sec", totp_secret=totp_secret(admin))
    listing = client.get("/admin/sessions")
    assert listing.status_code == 200 and "lisi" in listing.text
    assert client.post(f"/admin/sessions/{victim_session}/end").status_code == 302
    assert not signed_in(victim)
    assert sql.one("SELECT ended_reason FROM user_session WHERE id = %s",
                   victim_session) == "revoked"


def test_concurrent_session_limit_ends_the_oldest(live_server, db, sql, settings_override):
    settings_override(session_max_per_user=2)
    make_user("zhangsan", roles=("staff",))
    first, second, third = (live_server.client() for _ in range(3))
    for device in (first, second, third):
        login(device, "zhangsan")
    assert not signed_in(first)
    assert signed_in(second) and signed_in(third)
    assert sql.one("SELECT ended_reason FROM user_session ORDER BY id LIMIT 1") == "limit"


def test_session_ids_are_stored_hashed_and_renewed_at_login(client, sql):
    make_user("zhangsan", roles=("staff",))
    client.cookies.set("oa_sid", "attacker-chosen-session-id-123456", domain="127.0.0.1",
                       path="/")
    login(client, "zhangsan")
    token = client.cookies["oa_sid"]
    assert token != "attacker-chosen-session-id-123456"
    stored = sql.one("SELECT token_hash FROM user_session")
    assert token not in stored and len(stored) == 64


def test_metrics_count_live_sessions(client, live_server):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    body = live_server.client().get("/metrics").text
    assert re.search(r"^oa_active_sessions(\{[^}]*\})? 1(\.0)?$", body, re.M), body[-500:]
