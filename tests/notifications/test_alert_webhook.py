"""The Alertmanager webhook: refused without the right token, and firing/resolved alerts
become notifications for exactly the 系统管理员 and 安全管理员, once per alert, audited."""

from __future__ import annotations

import time

import pytest

from tests.notifications.conftest import FP_DB, TOKEN, alert, notifications, payload, post_alerts
from tests.support.audit import chain_audit_trail

FP_BACKUP = "0f1e2d3c4b5a6978"


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
def test_wrong_or_missing_token_is_refused_and_changes_nothing(live_server, people, sql,
                                                               webhook_token, token):
    response = post_alerts(live_server, payload(alert("PostgresDown", FP_DB)), token)
    assert response.status_code == 403
    assert "令牌" in response.json()["error"]["message"]
    assert notifications(sql) == []


def test_webhook_is_refused_while_no_token_is_configured(live_server, people, sql,
                                                         settings_override):
    settings_override(alert_webhook_token="")
    response = post_alerts(live_server, payload(alert("PostgresDown", FP_DB)), "")
    assert response.status_code == 403
    assert "未启用" in response.json()["error"]["message"]
    assert notifications(sql) == []


def test_firing_alert_notifies_exactly_the_system_and_security_admins(live_server, people, sql,
                                                                      webhook_token):
    response = post_alerts(live_server, payload(alert("PostgresDown", FP_DB)))
    assert response.status_code == 200, response.text
    assert response.json() == {"firing": 1, "resolved": 0, "recipients": 2, "closed": 0}
    rows = notifications(sql)
    assert sorted(r[0] for r in rows) == sorted([people["sysadmin"], people["secadmin"]])
    assert {r[1:] for r in rows} == {("数据库服务不可用", "critical", FP_DB, False)}
    body = sql.one("SELECT body FROM notification LIMIT 1")
    assert "PostgreSQL 已停止响应" in body and "db.lab:9187" in body


def test_repeated_posts_refresh_one_notification_per_admin(live_server, people, sql,
                                                           webhook_token):
    post_alerts(live_server, payload(alert("PostgresDown", FP_DB)))
    again = post_alerts(live_server, payload(alert("PostgresDown", FP_DB, summary="数据库仍不可用"),
                                             alert("BackupStale", FP_BACKUP,
                                                   summary="数据库备份已超过 26 小时未成功",
                                                   severity="warning")))
    assert again.status_code == 200, again.text
    rows = notifications(sql)
    assert len(rows) == 4  # two alerts x two administrators, no duplicates
    titles = {r[3]: r[1] for r in rows}
    assert titles == {FP_DB: "数据库仍不可用", FP_BACKUP: "数据库备份已超过 26 小时未成功"}


def test_resolved_alert_closes_its_notifications_and_a_new_firing_opens_new_ones(
        live_server, people, sql, webhook_token):
    post_alerts(live_server, payload(alert("PostgresDown", FP_DB)))
    resolved = post_alerts(live_server, payload(alert("PostgresDown", FP_DB, "resolved")))
    assert resolved.status_code == 200
    assert resolved.json()["closed"] == 2
    assert [r[4] for r in notifications(sql)] == [True, True]
    post_alerts(live_server, payload(alert("PostgresDown", FP_DB)))
    assert sorted(r[4] for r in notifications(sql)) == [False, False, True, True]


def test_bad_payload_gets_a_chinese_400_and_changes_nothing(live_server, people, sql,
                                                            webhook_token):
    broken = payload(alert("PostgresDown", "not-hex!"))
    response = post_alerts(live_server, broken)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "第1条告警有误" in error["fields"]["alerts"] and "十六进制" in error["fields"]["alerts"]
    unnamed = payload(alert("", FP_DB))
    assert "alertname" in post_alerts(live_server, unnamed).json()["error"]["fields"]["alerts"]
    wrong_version = {**payload(alert("PostgresDown", FP_DB)), "version": "3"}
    assert "版本" in post_alerts(live_server, wrong_version).json()["error"]["fields"]["version"]
    not_json = post_alerts(live_server, None)
    assert not_json.status_code == 400
    assert notifications(sql) == []


def test_received_alerts_are_audited(live_server, people, sql, webhook_token):
    post_alerts(live_server, payload(alert("PostgresDown", FP_DB)))
    chain_audit_trail()
    rows = sql.run("SELECT outcome, details FROM audit_event"
                   " WHERE action = 'notifications.alert.receive'")
    assert len(rows) == 1
    outcome, details = rows[0]
    assert outcome == "success"
    assert details["recipients"] == 2 and details["alerts"][0]["summary"] == "数据库服务不可用"


def test_refused_webhook_calls_are_audited_as_denied(live_server, people, sql, webhook_token):
    post_alerts(live_server, payload(alert("PostgresDown", FP_DB)), "wrong-token")
    for _ in range(50):
        chain_audit_trail()
        rows = sql.run("SELECT outcome FROM audit_event WHERE action = 'auth.permission_denied'")
        if rows:
            break
        time.sleep(0.1)  # a denial is audited after the response, off the request
    assert rows == [("denied",)]


def test_alert_resolved_before_its_firing_was_delivered_still_leaves_a_record(
        live_server, people, sql, webhook_token):
    # e.g. PostgreSQL itself was down: the firing post failed, only the resolved one arrives
    for _ in range(2):
        answer = post_alerts(live_server, payload(alert("PostgresDown", FP_DB, "resolved")))
        assert answer.status_code == 200, answer.text
    rows = notifications(sql)
    assert sorted(r[0] for r in rows) == sorted([people["sysadmin"], people["secadmin"]])
    assert {r[1:] for r in rows} == {("数据库服务不可用", "critical", FP_DB, True)}
