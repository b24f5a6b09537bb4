"""The auditor's reads: filters, pages, exports and counts, each itself audited."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from app.audit import export as files
from app.audit import service
from app.audit.service import AuditQuery
from app.core.db import run_in_transaction
from app.core.errors import PermissionDenied, ValidationError
from app.core.features import Scope
from tests.audit.helpers import auditor, context, stored_rows, write, write_at

UTC = dt.UTC


@pytest.fixture
def events(db):
    zhang = context(user_id=1, username="zhangsan", name="张三")
    li = context(user_id=2, username="lisi", name="李四")
    write(zhang, "org.user.update", object_type="user", object_id=7, details={"字段": "电话"})
    write(zhang, "org.user.view", object_type="user", object_id=8)
    write(li, "auth.login.failure", outcome="failure", details={"reason": "密码错误"})
    write(li, "auth.permission_denied", object_type="route", object_id="/audit",
          outcome="denied")
    write(li, "authx.other")
    return zhang, li


def search(query: AuditQuery, ctx=None, **kwargs):
    return run_in_transaction(service.search, ctx or auditor(), query, **kwargs)


def actions(page) -> list[str]:
    return [item["action"] for item in page.items]


def test_filters(events):
    assert actions(search(AuditQuery())) == ["authx.other", "auth.permission_denied",
                                             "auth.login.failure", "org.user.view",
                                             "org.user.update"]
    assert actions(search(AuditQuery(actor="lisi"))) == [
        "authx.other", "auth.permission_denied", "auth.login.failure"]
    assert actions(search(AuditQuery(actor="张三"))) == ["org.user.view", "org.user.update"]
    assert actions(search(AuditQuery(action="auth."))) == ["auth.permission_denied",
                                                          "auth.login.failure"]
    assert actions(search(AuditQuery(action="auth*"))) == [
        "authx.other", "auth.permission_denied", "auth.login.failure"]
    assert actions(search(AuditQuery(action="org.user.view"))) == ["org.user.view"]
    assert actions(search(AuditQuery(object_type="user", object_id="7"))) == ["org.user.update"]
    assert actions(search(AuditQuery(outcome="denied"))) == ["auth.permission_denied"]
    assert actions(search(AuditQuery(actor="lisi", outcome="success"))) == ["authx.other"]
    item = search(AuditQuery(object_id="7")).items[0]
    assert item["actor_name"] == "张三" and item["ip"] == "10.1.2.3"
    assert item["details"] == {"字段": "电话"} and item["outcome_title"] == "成功"


def test_time_range_is_in_local_days(db):
    # 2026-01-01 15:59 UTC is 23:59 on 1 January in Shanghai; 16:30 UTC is 00:30 on 2 January.
    write_at(dt.datetime(2026, 1, 1, 15, 59, tzinfo=UTC), "test.late_first")
    write_at(dt.datetime(2026, 1, 1, 16, 30, tzinfo=UTC), "test.early_second")
    write_at(dt.datetime(2026, 1, 3, 1, 0, tzinfo=UTC), "test.third")
    second = search(AuditQuery(since=dt.date(2026, 1, 2), until=dt.date(2026, 1, 2)))
    assert actions(second) == ["test.early_second"]
    assert second.items[0]["occurred_local"] == "2026-01-02 00:30:00"
    assert actions(search(AuditQuery(until=dt.date(2026, 1, 1)))) == ["test.late_first"]
    later = AuditQuery(since=dt.date(2026, 1, 2), until=dt.date(2026, 1, 3), action="test.")
    assert actions(search(later)) == ["test.third", "test.early_second"]
    with pytest.raises(ValidationError):
        AuditQuery(since=dt.date(2026, 1, 3), until=dt.date(2026, 1, 2))


def test_pages_go_back_in_time_and_reading_is_audited(events):
    first = search(AuditQuery(), limit=2)
    assert actions(first) == ["authx.other", "auth.permission_denied"]
    second = search(AuditQuery(), before=first.next_before, limit=2)
    assert actions(second) == ["auth.login.failure", "org.user.view"]
    third = search(AuditQuery(outcome="success"), before=second.next_before, limit=2)
    assert actions(third) == ["org.user.update"] and third.next_before is None
    reads = [r for r in stored_rows() if r[3] == "audit.search"]
    assert len(reads) == 3 and all(r[4] == "shenji" for r in reads)
    assert '"outcome": "success"' in reads[-1][5]


def test_without_permission_nothing_is_read(events):
    with pytest.raises(PermissionDenied):
        search(AuditQuery(), ctx=context(user_id=3, username="wangwu"))
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.export_events, context(permissions={
            "audit.view": Scope.ALL}), AuditQuery(), "csv")


def test_own_scope_sees_only_own_events(events):
    mine = context(user_id=2, username="lisi", name="李四",
                   permissions={"audit.view": Scope.SELF})
    page = search(AuditQuery(), ctx=mine)
    assert {item["actor_username"] for item in page.items} == {"lisi"}
    assert len(page.items) == 3


def export(query: AuditQuery, file_format: str):
    return run_in_transaction(service.export_events, auditor(), query, file_format)


def test_csv_export_opens_in_excel_and_neutralises_formulas(events):
    write(context(user_id=5, username="evil", name="=HYPERLINK(\"x\")"), "test.formula")
    result = export(AuditQuery(actor="lisi"), "csv")
    data = files.csv_bytes(result.events)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["编号", "时间（本地）", "时间（UTC）", "操作人账号", "操作人姓名"]
    assert [r[7] for r in rows[1:]] == ["auth.login.failure", "auth.permission_denied",
                                        "authx.other"]
    assert rows[1][10] == "失败" and "密码错误" in rows[1][11]
    formula = files.csv_bytes(export(AuditQuery(action="test.formula"), "csv").events)
    assert "'=HYPERLINK" in formula.decode("utf-8-sig")
    exported = [r for r in stored_rows() if r[3] == "audit.export"]
    assert len(exported) == 2 and '"rows": 3' in exported[0][5]


def test_xlsx_export_contents(events):
    write(context(user_id=5, username="evil", name="=1+2"), "test.formula")
    result = export(AuditQuery(), "xlsx")
    sheet = load_workbook(io.BytesIO(files.xlsx_bytes(result.events))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and sheet.title == "审计日志"
    assert [r[7] for r in rows[1:]] == ["org.user.update", "org.user.view", "auth.login.failure",
                                        "auth.permission_denied", "authx.other", "test.formula"]
    assert rows[1][4] == "张三" and rows[1][9] == "7"
    assert rows[-1][4] == "=1+2"  # stored as text, not run as a formula
    assert sheet.cell(row=len(rows), column=5).data_type == "s"
    assert not result.truncated


def test_export_is_bounded(events, monkeypatch):
    monkeypatch.setattr(service, "EXPORT_LIMIT", 2)
    result = export(AuditQuery(), "csv")
    assert result.truncated
    assert [e["action"] for e in result.events] == ["auth.permission_denied", "authx.other"]


def test_daily_counts_and_overview(db):
    today = dt.datetime.now(service.local_zone()).replace(hour=12, minute=0)
    write_at(today, "test.a")
    write_at(today, "test.b", outcome="failure")
    write_at(today - dt.timedelta(days=2), "test.c", outcome="denied")
    write_at(today - dt.timedelta(days=40), "test.old")
    stats = run_in_transaction(service.daily_counts, auditor())
    assert len(stats.days) == 30 and stats.days[-1].day == today.date()
    assert [d.count for d in stats.days[-3:]] == [1, 0, 2]
    assert sum(d.count for d in stats.days) == 3 == stats.total
    assert stats.by_outcome == {"success": 1, "failure": 1, "denied": 1}
    overview = run_in_transaction(service.overview, auditor())
    # today: the two events written above and the auditor's own reading of the counts
    assert (overview["total"], overview["failures"], overview["denials"]) == (3, 1, 0)


def _org(tree: dict[str, str | None], people: dict[str, str]) -> dict[str, int]:
    """Departments {name: parent name} and people {username: department}: their ids."""
    from app.core.db import database

    def unit() -> dict[str, int]:
        ids: dict[str, int] = {}
        for name, parent in tree.items():
            ids[name] = database.execute_sql(
                "INSERT INTO department (name, parent_id) VALUES (%s, %s) RETURNING id",
                (name, ids.get(parent) if parent else None)).fetchone()[0]
        for number, (username, department) in enumerate(people.items()):
            ids[username] = database.execute_sql(
                "INSERT INTO app_user (username, employee_no, name, department_id)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (username, f"E{number}", username, ids[department])).fetchone()[0]
        return ids

    return run_in_transaction(unit)


def test_department_and_subtree_scopes(db):
    ids = _org({"局": None, "刑侦支队": "局", "一大队": "刑侦支队", "交警支队": "局"},
               {"aa": "刑侦支队", "bb": "一大队", "cc": "交警支队"})
    for username in ("aa", "bb", "cc"):
        write(context(user_id=ids[username], username=username), "test.work")

    def seen(scope: Scope) -> set[str]:
        ctx = context(user_id=999, username="local", department_id=ids["刑侦支队"],
                      permissions={"audit.view": scope})
        return {i["actor_username"] for i in search(AuditQuery(action="test.work"), ctx=ctx).items}

    assert seen(Scope.DEPARTMENT) == {"aa"}
    assert seen(Scope.SUBTREE) == {"aa", "bb"}
    assert seen(Scope.ALL) == {"aa", "bb", "cc"}
