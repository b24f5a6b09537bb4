"""Alertmanager posts as Alertmanager sends them (webhook version 4), and SQL as superuser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Sql
from tests.support.accounts import make_user
from tests.support.database import TestDatabase

TOKEN = "test-webhook-token-0123456789abcdef"
FP_DB = "a1b2c3d4e5f60718"  # the fingerprint of the database-down alert in these tests


@pytest.fixture
def sql(db: TestDatabase) -> Sql:
    return Sql(db)


@pytest.fixture
def people(db) -> dict[str, int]:
    return {
        "sysadmin": make_user("xitong", roles=("sysadmin",)).id,
        "secadmin": make_user("anquan", roles=("secadmin",)).id,
        "auditor": make_user("shenji", roles=("auditor",)).id,
        "staff": make_user("zhangsan", roles=("staff",)).id,
    }


def notifications(sql) -> list[tuple]:
    return sql.run("SELECT user_id, title, severity, fingerprint, resolved_at IS NOT NULL"
                   " FROM notification ORDER BY user_id, id")


@pytest.fixture
def webhook_token(settings_override) -> str:
    settings_override(alert_webhook_token=TOKEN)
    return TOKEN


def alert(name: str, fingerprint: str, status: str = "firing", *,
          summary: str = "数据库服务不可用", severity: str = "critical") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": "db.lab:9187"},
        "annotations": {"summary": summary, "description": "PostgreSQL 已停止响应超过 1 分钟。"},
        "startsAt": "2026-11-25T01:02:03.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://backup:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": "{}:{alertname=\"PostgresDown\"}", "truncatedAlerts": 0,
            "status": status, "receiver": "oa-app", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://backup:9093", "alerts": list(alerts)}


def post_alerts(live_server, body: Any, token: str | None = TOKEN):
    """POST as Alertmanager does: a fresh client, no cookies, no CSRF token."""
    import requests

    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{live_server.url}/api/alerts/alertmanager", json=body,
                         headers=headers, timeout=10)
