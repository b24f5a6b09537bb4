"""The 安全审计员's pages and API over HTTP: refused without audit.view, shown with it."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from openpyxl import load_workbook

from tests.audit.helpers import context, stored_rows, write
from tests.support.accounts import login, make_user, totp_secret

LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.fixture
def auditor_client(client):
    user = make_user("shenji", name="审计员甲", roles=("auditor",), totp=True)
    login(client, "shenji", totp_secret=totp_secret(user))
    write(context(user_id=77, username="zhangsan", name="张三"), "org.user.update",
          object_type="user", object_id=5, details={"字段": "电话"})
    return client


@pytest.fixture
def staff_client(live_server, db):
    make_user("putong", name="普通民警", roles=("staff",))
    staff = live_server.client()
    login(staff, "putong")
    return staff


def _wait_for(action: str, timeout: float = 5.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in stored_rows(chain=False) if r[3] == action]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_pages_are_refused_without_audit_view(staff_client):
    for path in ("/audit", "/audit/stats", "/audit/export.csv", "/audit/export.xlsx"):
        assert staff_client.get(path).status_code == 403, path
    response = staff_client.get("/api/audit/events")
    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403
    assert 'href="/audit"' not in staff_client.get("/").text
    denied = _wait_for("auth.permission_denied")
    assert denied and all(r[4] == "putong" for r in denied)


def test_search_page_shows_events_in_local_time(auditor_client):
    page = auditor_client.get("/audit")
    assert page.status_code == 200
    assert 'href="/audit"' in page.text  # the nav item 安全审计
    assert 'id="audit-results"' in page.text and "org.user.update" in page.text
    assert LOCAL_TIME.search(page.text)
    assert "张三" in page.text and "字段" in page.text
    filtered = auditor_client.get("/audit", params={"actor": "zhangsan", "outcome": "success"})
    assert filtered.text.count("<tr data-event-id") == 1
    empty = auditor_client.get("/audit", params={"action": "nothing.like.this"})
    assert 'id="audit-empty"' in empty.text
    bad = auditor_client.get("/audit", params={"since": "2026-02-30"})
    assert bad.status_code == 200 and "has-error" in bad.text and "日期" in bad.text
    reads = [r for r in stored_rows() if r[3] == "audit.search"]
    assert reads and reads[-1][4] == "shenji"


def test_exports_follow_the_filters(auditor_client):
    response = auditor_client.get("/audit/export.csv", params={"actor": "zhangsan"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][3:5] == ["zhangsan", "张三"]
    response = auditor_client.get("/audit/export.xlsx",
                                  params={"object_type": "user", "object_id": "5"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert [r[7] for r in values[1:]] == ["org.user.update"]
    exports = [r for r in stored_rows() if r[3] == "audit.export"]
    assert len(exports) == 2 and all(r[4] == "shenji" for r in exports)


def test_stats_page_draws_the_daily_chart(auditor_client):
    page = auditor_client.get("/audit/stats")
    assert page.status_code == 200
    assert '<svg class="chart audit-chart"' in page.text
    assert page.text.count('class="bar"') == 30
    assert 'id="audit-outcomes"' in page.text and "拒绝" in page.text
    assert "<script>" not in page.text and "style=" not in page.text


def test_events_api_paginates(auditor_client):
    first = auditor_client.get("/api/audit/events", params={"limit": 1})
    assert first.status_code == 200
    body = first.json()
    assert len(body["items"]) == 1 and body["next_before"] == body["items"][0]["id"]
    older = auditor_client.get("/api/audit/events",
                               params={"limit": 200, "before": body["next_before"]}).json()
    assert all(item["id"] < body["next_before"] for item in older["items"])
    one = auditor_client.get("/api/audit/events", params={"object_id": "5"}).json()["items"]
    assert one[0]["actor_name"] == "张三" and LOCAL_TIME.fullmatch(one[0]["occurred_local"])
    assert auditor_client.get("/api/audit/events", params={"limit": "x"}).status_code == 400
    assert auditor_client.get("/api/audit/events", params={"outcome": "?"}).status_code == 400


def test_openapi_declares_the_events_api(auditor_client):
    document = auditor_client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/audit/events"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"actor", "since", "before", "limit"}


def test_portal_widget_counts_today(auditor_client):
    page = auditor_client.get("/")
    assert page.status_code == 200
    widget = page.text.split('data-widget="audit_overview"', 1)[1].split("</section>", 1)[0]
    assert "今日审计事件" in widget and 'href="/audit?outcome=denied' in widget
    total = int(re.search(r'data-count="total">(\d+)<', widget).group(1))
    assert total >= 2  # at least the login and the event written by the fixture


def _hold_chain_head(db):
    """A connection that chained an event of its own and has not committed: the head is taken
    until it ends, as by a committer mid-commit."""
    import psycopg2

    from app.core.db import connect_params

    holder = psycopg2.connect(**connect_params(db.runtime_url))
    with holder.cursor() as cur:
        cur.execute("INSERT INTO audit_event_pending (action, outcome)"
                    " VALUES ('test.holder', 'success')")
        cur.execute("SELECT audit_chain_pending(true)")
    return holder


def test_events_stranded_by_a_busy_chain_head_are_chained_by_the_worker(db, staff_client):
    holder = _hold_chain_head(db)
    try:
        assert staff_client.get("/api/audit/events").status_code == 403  # audited denial
        time.sleep(0.3)
        assert not [r for r in stored_rows(chain=False) if r[3] == "auth.permission_denied"]
    finally:
        holder.rollback()
        holder.close()
    # nobody else writes: the web worker's periodic pass (every second) chains it
    denied = _wait_for("auth.permission_denied", timeout=4)
    assert denied and denied[0][4] == "putong"


def test_search_waits_for_the_chain_and_shows_every_committed_event(db, auditor_client):
    import threading

    holder = _hold_chain_head(db)
    write(context(user_id=78, username="lisi", name="李四"), "org.user.disable")  # pending
    pages: list = []
    search = threading.Thread(
        target=lambda: pages.append(auditor_client.get("/audit", params={"actor": "lisi"})))
    search.start()
    time.sleep(0.3)
    holder.rollback()  # the head is free: the search chains what waits, then reads
    holder.close()
    search.join(10)
    assert pages and pages[0].text.count("<tr data-event-id") == 1
