"""A user's notifications: the list, the unread badge, marking read (only one's own), the
系统告警 widget of the administrators, and the failed-login counter behind the burst alert."""

from __future__ import annotations

import re

import pytest

from tests.notifications.conftest import alert, payload, post_alerts
from tests.support.accounts import login, login_response, make_user, totp_secret
from tests.support.audit import chain_audit_trail


def add_notification(sql, user_id: int, title: str, *, read: bool = False) -> int:
    return sql.one("INSERT INTO notification (user_id, title, body, severity, read_at)"
                   " VALUES (%s, %s, '正文', 'warning', CASE WHEN %s THEN now() END)"
                   " RETURNING id", user_id, title, read)


@pytest.fixture
def staff(db) -> int:
    return make_user("zhangsan", roles=("staff",)).id


def test_list_badge_and_mark_read(client, sql, staff):
    other = make_user("lisi", roles=("staff",)).id
    first = add_notification(sql, staff, "第一条通知")
    add_notification(sql, staff, "第二条通知")
    add_notification(sql, staff, "早已读过", read=True)
    foreign = add_notification(sql, other, "别人的通知")
    login(client, "zhangsan")

    assert client.get("/api/notifications/unread-count").json() == {"count": 2}
    page = client.get("/notifications")
    assert page.status_code == 200
    assert "第一条通知" in page.text and "早已读过" in page.text and "别人的通知" not in page.text
    assert ('data-badge-url="/api/notifications/unread-count" data-badge-counted>通知'
            '<span class="badge danger nav-badge">2</span>') in page.text
    unread = client.get("/notifications?unread=1").text
    assert "早已读过" not in unread

    assert client.post(f"/notifications/{first}/read").status_code == 302
    assert client.get("/api/notifications/unread-count").json() == {"count": 1}
    assert client.post(f"/notifications/{foreign}/read").status_code == 404
    assert sql.one("SELECT read_at IS NULL FROM notification WHERE id = %s", foreign) is True

    assert client.post("/notifications/read-all").status_code == 302
    assert client.get("/api/notifications/unread-count").json() == {"count": 0}
    chain_audit_trail()
    actions = [a for (a,) in sql.run("SELECT action FROM audit_event ORDER BY id")]
    assert "notifications.read" in actions and "notifications.read_all" in actions


def test_marking_read_needs_the_csrf_token(client, sql, staff):
    first = add_notification(sql, staff, "第一条通知")
    login(client, "zhangsan")
    response = client.post(f"/notifications/{first}/read", headers={"X-XSRFToken": "forged"})
    assert response.status_code == 403
    assert sql.one("SELECT read_at IS NULL FROM notification WHERE id = %s", first) is True


def test_admin_portal_shows_open_alerts_and_staff_has_no_alert_widget(
        client, live_server, sql, webhook_token):
    admin = make_user("xitong", roles=("sysadmin",), totp=True)
    make_user("zhangsan", roles=("staff",))
    post_alerts(live_server, payload(alert("PostgresDown", "aa11"),
                                     alert("BackupStale", "bb22", summary="备份已过期",
                                           severity="warning")))
    post_alerts(live_server, payload(alert("BackupStale", "bb22", "resolved")))
    login(client, "xitong", totp_secret=totp_secret(admin))
    desktop = client.get("/").text
    assert 'data-widget="alerts_system"' in desktop
    widget = desktop.split('data-widget="alerts_system"', 1)[1]
    assert "系统告警" in desktop and "数据库服务不可用" in widget
    assert re.search(r'data-alerts="1"', widget)
    assert "备份已过期" not in widget.split("</section>", 1)[0]  # resolved: not open

    staff_client = live_server.client()
    login(staff_client, "zhangsan")
    assert "alerts_" not in staff_client.get("/").text


def test_failed_logins_are_counted_for_the_burst_alert(client, staff):
    def failures() -> float:
        text = client.get("/metrics").text
        found = re.findall(r'^oa_login_failures_total\{reason="password"\} ([0-9.e+]+)$', text,
                           re.MULTILINE)
        return float(found[0]) if found else 0.0

    before = failures()
    assert login_response(client, "zhangsan", "Wrong@pass1").status_code == 400
    assert failures() == before + 1
