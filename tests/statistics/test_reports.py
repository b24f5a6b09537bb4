"""The fixed reports over the hand-computed bureau of conftest.py: numbers, who sees which
departments, filters, the XLSX export and the audit trail, over HTTP where a user would."""

from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest
from openpyxl import load_workbook

from app.core.db import database, run_in_transaction
from app.core.errors import PermissionDenied, ValidationError
from app.statistics import scope, service
from tests.statistics.conftest import BEIJING, MARCH, at
from tests.support.accounts import ctx_for, login
from tests.support.audit import chain_audit_trail


def _report(user, key: str, department: int | None = None, **dates) -> dict[str, list]:
    """{table key: rows} of one report as `user` sees it."""
    data = scope.parse_filters({**MARCH, **dates, "department": str(department or "")})
    result = run_in_transaction(service.run_report, ctx_for(user), key, data)
    return {t.key: t.rows for t in result.tables}


def _by_label(rows: list[list]) -> dict[str, list]:
    return {row[0]: row[1:] for row in rows}


# ---- the numbers ----------------------------------------------------------------------------
def test_timeliness_per_step_and_department(bureau):
    tables = _report(bureau.office, "timeliness")
    steps = {(r[0], r[1]): r[2:] for r in tables["steps"]}
    # review: hours 2, 4, 6, 1, 2 -> avg 3.0, median 2.0, p90 = 4 + 0.6 * (6 - 4) = 5.2;
    # deadlines on 3 of them, 1 overdue
    assert steps[("测试发文", "部门审核")] == [5, 3.0, 2.0, 5.2, 3, 1, 33.3]
    assert steps[("测试发文", "签发")] == [1, 10.0, 10.0, 10.0, 1, 1, 100.0]
    # all six: hours 1 2 2 4 6 10 -> avg 25/6, median 3, p90 = 6 + 0.5 * 4 = 8
    assert steps[("合计", "")] == [6, 4.2, 3.0, 8.0, 4, 2, 50.0]
    departments = _by_label(tables["departments"])
    assert departments["刑侦支队"] == [3, 5.3, 4.0, 8.8, 3, 2, 66.7]  # 2 4 10
    assert departments["刑侦支队/一大队"] == [1, 6.0, 6.0, 6.0, 0, 0, None]
    assert departments["治安支队"] == [2, 1.5, 1.5, 1.9, 1, 0, 0.0]


def test_range_ends_at_local_midnight(bureau):
    """03-31 23:30 Beijing time (15:30 UTC) is inside; 04-01 00:30 is not."""
    tables = _report(bureau.office, "timeliness", until="2026-03-30")
    assert _by_label(tables["departments"])["治安支队"][0] == 1
    tables = _report(bureau.office, "timeliness", since="2026-04-01", until="2026-04-01")
    assert _by_label(tables["departments"])["治安支队"][0] == 1


def test_documents_by_month_department_type_and_secrecy(bureau):
    tables = _report(bureau.office, "documents")
    # drafts, cancelled ones and February's are not 发文 of March; the 23:00 one of 03-31 is
    assert tables["months"] == [["2026-03", 5, 2, 3], ["合计", 5, 2, 3]]
    assert _by_label(tables["departments"]) == {"刑侦支队": [4, 1, 2], "治安支队": [1, 1, 1]}
    assert _by_label(tables["doc_types"]) == {"通知": [2, 1], "请示": [1, 0], "报告": [1, 0],
                                             "函": [1, 1]}
    assert tables["secrecy"] == [["非密", 4, 2], ["秘密", 1, 0], ["机密", 0, 1],
                                 ["绝密", 0, 0]]


def test_months_cover_the_whole_range(bureau):
    tables = _report(bureau.office, "documents", since="2026-01-15")
    assert [r[0] for r in tables["months"]] == ["2026-01", "2026-02", "2026-03", "合计"]
    assert tables["months"][1] == ["2026-02", 1, 0, 0]


def test_workload_per_department_and_person(bureau):
    tables = _report(bureau.office, "workload")
    assert _by_label(tables["departments"]) == {
        "刑侦支队": [3, 1, 5.3, 2], "刑侦支队/一大队": [1, 0, 6.0, 0], "治安支队": [2, 0, 1.5, 0],
        "合计": [6, 1, 4.2, 2]}
    people = {row[0]: row[1:] for row in tables["people"]}
    assert people["刑侦科员"] == ["刑侦支队", 2, 1, 3.0, 1]
    assert people["刑侦支队长"] == ["刑侦支队", 1, 0, 10.0, 1]


def test_backlog_counts_open_tasks_now(bureau):
    tables = _report(bureau.office, "backlog")
    departments = _by_label(tables["departments"])
    now = dt.datetime.now(BEIJING)
    age = (now - at("2026-03-10")).total_seconds() / 86400
    count, overdue, oldest = departments["刑侦支队"]
    assert (count, overdue) == (2, 1)
    assert oldest == pytest.approx(age, abs=0.11)
    assert departments["治安支队"][:2] == [1, 0]
    assert departments["合计"][:2] == [3, 1]
    assert [row[0] for row in tables["people"]] == ["刑侦科员", "治安科员"]


# ---- who sees what ------------------------------------------------------------------------------
def test_a_clerk_sees_only_own_department(bureau):
    departments = _by_label(_report(bureau.ke_a, "timeliness")["departments"])
    assert set(departments) == {"刑侦支队", "合计"}
    assert departments["合计"][0] == 3
    for other in (bureau.b, bureau.a1):
        with pytest.raises(PermissionDenied, match="无权查看该部门"):
            _report(bureau.ke_a, "timeliness", department=other.id)


def test_a_leader_sees_the_subtree_led(bureau):
    departments = _by_label(_report(bureau.leader_a, "workload")["departments"])
    assert set(departments) == {"刑侦支队", "刑侦支队/一大队", "合计"}
    one_unit = _by_label(_report(bureau.leader_a, "workload", department=bureau.a1.id)
                         ["departments"])
    assert set(one_unit) == {"刑侦支队/一大队", "合计"}
    with pytest.raises(PermissionDenied):
        _report(bureau.leader_a, "workload", department=bureau.b.id)


def test_the_office_sees_every_department(bureau):
    departments = _by_label(_report(bureau.office, "backlog")["departments"])
    assert {"刑侦支队", "治安支队"} <= set(departments)
    subtree = _by_label(_report(bureau.office, "workload", department=bureau.a.id)
                        ["departments"])
    assert set(subtree) == {"刑侦支队", "刑侦支队/一大队", "合计"}


# ---- filters ------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "field", "message"), [
    ({"since": "2026-03-31", "until": "2026-03-01"}, "since", "开始日期不能晚于结束日期"),
    ({"since": "2025-01-01", "until": "2026-03-01"}, "since", "统计区间不能超过366天"),
    ({"since": "2026-13-01"}, "since", "开始日期应为日期，格式如 2026-11-24"),
    ({"until": "昨天"}, "until", "结束日期应为日期"),
    ({"department": "刑侦"}, "department", "部门必须是整数"),
])
def test_bad_filters_are_refused_in_chinese(raw, field, message):
    with pytest.raises(ValidationError) as error:
        scope.parse_filters(raw)
    assert message in error.value.fields[field]


def test_unknown_department_is_a_validation_error(bureau):
    with pytest.raises(ValidationError) as error:
        _report(bureau.office, "documents", department=10**9)
    assert error.value.fields == {"department": "所选部门不存在"}


# ---- over HTTP: pages, export, audit ------------------------------------------------------------
def _client(live_server, user):
    client = live_server.client()
    login(client, user.username)
    return client


def _audit(action: str) -> list[tuple]:
    chain_audit_trail()
    return run_in_transaction(lambda: database.execute_sql(
        "SELECT actor_username, object_id, details->>'since', details->>'department'"
        " FROM audit_event WHERE action = %s ORDER BY id", (action,)).fetchall())


def test_report_page_shows_table_chart_and_is_audited(bureau, live_server):
    client = _client(live_server, bureau.leader_a)
    page = client.get("/statistics/timeliness", params=MARCH)
    assert page.status_code == 200
    assert 'href="/statistics"' in page.text  # the nav item 统计分析
    assert "刑侦支队/一大队" in page.text and "治安支队" not in page.text
    assert re.search(r'<svg class="chart stat-chart"', page.text)
    assert 'data-value="5.3"' in page.text  # 刑侦支队: average of 2, 4 and 10 hours
    assert _audit("statistics.view") == [("leader_a", "timeliness", "2026-03-01", None)]


def test_bad_filter_page_is_a_chinese_400(bureau, live_server):
    client = _client(live_server, bureau.ke_a)
    page = client.get("/statistics/documents", params={"since": "2026-04-01",
                                                       "until": "2026-03-01"})
    assert page.status_code == 400
    assert "开始日期不能晚于结束日期" in page.text
    export = client.get("/statistics/documents.xlsx", params={"until": "2026-02-30"})
    assert export.status_code == 400
    assert "结束日期应为日期" in export.text
    assert _audit("statistics.view") == [] and _audit("statistics.export") == []


def test_other_department_is_refused_and_audited(bureau, live_server):
    client = _client(live_server, bureau.ke_a)
    response = client.get("/statistics/workload", params={**MARCH, "department": bureau.b.id})
    assert response.status_code == 403
    assert "您无权查看该部门的统计数据" in response.text
    deadline = time.monotonic() + 5  # the core writes the denial after the response
    while not _audit("auth.permission_denied") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [row[:2] for row in _audit("auth.permission_denied")] == [
        ("ke_a", "/statistics/(?P<key>[a-z]{1,20})")]
    assert _audit("statistics.view") == []
    assert client.get("/statistics/nosuch").status_code == 404


def test_xlsx_export_has_the_tables(bureau, live_server):
    client = _client(live_server, bureau.office)
    response = client.get("/statistics/documents.xlsx",
                          params={**MARCH, "department": bureau.a.id})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["说明", "按月份", "按部门", "发文按文种", "按密级"]
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert cover["统计区间"] == "2026-03-01 至 2026-03-31"
    assert cover["部门范围"] == "刑侦支队（含下级部门）"
    rows = list(book["按部门"].iter_rows(values_only=True))
    assert rows == [("部门", "发文数", "其中已编号", "收文数"), ("刑侦支队", 4, 1, 2)]
    assert _audit("statistics.export") == [("office", "documents", "2026-03-01",
                                            str(bureau.a.id))]


def test_people_without_the_permission_see_nothing(bureau, live_server):
    def revoke() -> None:
        database.execute_sql("DELETE FROM role_permission WHERE permission = 'statistics.view'")

    run_in_transaction(revoke)
    client = _client(live_server, bureau.ke_b)
    assert client.get("/statistics").status_code == 403
    assert 'href="/statistics"' not in client.get("/").text


def test_api_returns_every_table_as_json(bureau, live_server):
    client = _client(live_server, bureau.ke_b)
    response = client.get("/api/statistics/workload", params=MARCH)
    assert response.status_code == 200
    body = response.json()
    assert (body["report"], body["since"], body["department"]) == ("workload", "2026-03-01",
                                                                   None)
    tables = {t["key"]: t for t in body["tables"]}
    assert tables["departments"]["rows"] == [["治安支队", 2, 0, 1.5, 0], ["合计", 2, 0, 1.5, 0]]
    assert tables["people"]["columns"][0] == {"title": "姓名", "kind": "text"}
    refused = client.get("/api/statistics/workload", params={"since": "2026-03-02",
                                                             "until": "2026-03-01"})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"since": "开始日期不能晚于结束日期"}
    assert _audit("statistics.view") == [("ke_b", "workload", "2026-03-01", None)]
