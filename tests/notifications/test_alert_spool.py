"""Alerts that arrive while the database refuses the application are kept on disk and applied,
in the order they came, once it answers again — the 数据库不可用 alert reaches the admins.

The outage is real: the runtime role is refused its logins and its connections are ended, so
the live server's pool finds no database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core.config import settings
from app.notifications import spool
from ops_cli.pgcluster import RUNTIME_ROLE
from tests.notifications.conftest import FP_DB, alert, notifications, payload, post_alerts
from tests.support.audit import chain_audit_trail

FP_DISK = "1122334455667788"


@pytest.fixture
def spool_dir(tmp_path: Path, settings_override) -> Path:
    directory = tmp_path / "alert-spool"
    settings_override(extra={**settings().extra, "alert_spool_dir": str(directory)})
    return directory


@pytest.fixture
def refuse_the_app(sql) -> Iterator[Callable[[bool], None]]:
    """`refuse_the_app(True)`: the database refuses the runtime role's logins and ends its
    sessions, until `refuse_the_app(False)` or the test's end."""
    def refuse(down: bool) -> None:
        sql.run(f'ALTER ROLE "{RUNTIME_ROLE}" {"NOLOGIN" if down else "LOGIN"}')
        if down:
            sql.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE usename = %s", RUNTIME_ROLE)

    yield refuse
    refuse(False)


def spooled(directory: Path) -> list[str]:
    return [json.loads(p.read_text())["body"]["status"]
            for p in sorted(directory.glob(f"*{spool.SUFFIX}"))]


def wait_until(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("等待超时")


def test_alerts_posted_while_the_database_is_down_are_applied_in_order_when_it_is_back(
        live_server, people, sql, webhook_token, spool_dir, refuse_the_app):
    refuse_the_app(True)
    for status in ("firing", "resolved"):
        answer = post_alerts(live_server, payload(alert("PostgresDown", FP_DB, status)))
        assert answer.status_code == 202, answer.text
        assert answer.json()["spooled"] is True
    assert spooled(spool_dir) == ["firing", "resolved"]

    refuse_the_app(False)
    # the workers' replay pass (every few seconds) applies both: opened, then closed
    wait_until(lambda: not spooled(spool_dir))
    rows = notifications(sql)
    assert sorted(r[0] for r in rows) == sorted([people["sysadmin"], people["secadmin"]])
    assert {r[1:] for r in rows} == {("数据库服务不可用", "critical", FP_DB, True)}
    # audited as received, with when they arrived
    chain_audit_trail()
    details = [row[0] for row in sql.run(
        "SELECT details FROM audit_event WHERE action = 'notifications.alert.receive'"
        " ORDER BY id")]
    assert [d["firing"] for d in details] == [1, 0]
    assert all("spooled_at" in d for d in details)


def test_while_the_spool_holds_posts_new_ones_queue_behind_them(
        live_server, people, sql, webhook_token, spool_dir):
    from app.core.context import RequestContext

    ctx = RequestContext(principal=None, ip="10.77.0.12")
    spool.put(payload(alert("PostgresDown", FP_DB)), ctx)
    # the database is up, yet the resolved post must not overtake the spooled firing one
    answer = post_alerts(live_server, payload(alert("PostgresDown", FP_DB, "resolved")))
    assert answer.status_code == 202, answer.text
    wait_until(lambda: not spooled(spool_dir))
    assert {r[4] for r in notifications(sql)} == {True}


def test_a_spooled_post_that_no_longer_validates_is_set_aside_and_the_rest_applied(
        live_server, people, sql, webhook_token, spool_dir):
    from app.core.context import RequestContext

    ctx = RequestContext(principal=None)
    spool.put({"version": "4", "status": "firing", "alerts": []}, ctx)
    spool.put(payload(alert("DiskFull", FP_DISK, summary="磁盘空间不足")), ctx)
    wait_until(lambda: not spooled(spool_dir))
    assert len(list(spool_dir.glob(f"*{spool.REJECTED_SUFFIX}"))) == 1
    assert {r[1] for r in notifications(sql)} == {"磁盘空间不足"}
