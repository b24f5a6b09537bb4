"""The fixed statistics reports (统计分析): one SQL pass each, run inside a unit of work.

Every report returns plain `Table`s, which the page renders (table + SVG chart) and the
export writes as sheets, so that what is shown and what is exported cannot differ.

Definitions (also shown on the pages):
- 发文: 发文稿纸 past the draft (not 草稿, not 已作废), counted by 拟稿 date and drafting
  department; 收文 by 收文日期 and the receiving department.
- 办理时效: workflow tasks done in the range (acted on; 拟稿 itself is not 办理), handling time
  = acted − received; 超期 = acted after the task's deadline; 超期率 = 超期 / tasks with a deadline.
  Department = the handler's current department.
- 待办积压: tasks open (待办 or 等待加签) now, whatever the date range.
- 工作量: tasks done per person and department in the range (拟稿提交 counted apart).
- 督办: the 督办 feature does not exist yet; its statistics come with it.
The reports show counts and durations only, never a 公文's title or content, so the 密级 of
the documents counted does not limit who may see them; the department scope does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.audit.service import local_zone
from app.core.context import RequestContext
from app.core.db import database
from app.documents.constants import SECRECY_TITLES
from app.org.service import DepartmentIndex, audit
from app.statistics import scope
from app.statistics.scope import Filters

PERSON_ROWS_SHOWN = 100  # the page shows the busiest; the export has everyone
REPORT_WORK_MEM = "64MB"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text | int | hours | days | percent


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    chart_column: int | None = None  # the value column charted against column 0
    shown_rows: int | None = None  # the page shows only the first n rows (the export all)


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    summary: str
    build: Callable[[Filters, DepartmentIndex], list[Table]]
    uses_dates: bool = True


@dataclass
class ReportResult:
    report: Report
    filters: Filters
    tables: list[Table]
    departments: list[dict[str, Any]] = field(default_factory=list)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(local_zone()))


# ---- SQL helpers ------------------------------------------------------------
def _rows(sql: str, params: dict[str, Any]) -> list[tuple]:
    return database.execute_sql(sql, params).fetchall()


def _department_condition(column: str, filters: Filters) -> str:
    return "" if filters.departments is None else f" AND {column} = ANY(%(departments)s)"


def _params(filters: Filters, **extra: Any) -> dict[str, Any]:
    return {"start": filters.start, "end": filters.end, "since": filters.since,
            "until": filters.until, "tz": str(local_zone()),
            "departments": sorted(filters.departments or ()), **extra}


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _rate(part: int, whole: int) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def _months(since: dt.date, until: dt.date) -> list[str]:
    months, current = [], since.replace(day=1)
    while current <= until:
        months.append(current.strftime("%Y-%m"))
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months


# ---- 公文统计 ------------------------------------------------------------
_OUTGOING_SQL = """
SELECT GROUPING(m, d, t, s) AS g, m, d, t, s, count(*), count(doc_number)
  FROM (SELECT to_char(created_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS m,
               drafting_department_id AS d, doc_type AS t, secrecy AS s, doc_number
          FROM outgoing_document
         WHERE created_at >= %(start)s AND created_at < %(end)s
           AND status NOT IN ('draft', 'cancelled'){depts}) x
 GROUP BY GROUPING SETS ((m), (d), (t), (s))
"""
_INCOMING_SQL = """
SELECT GROUPING(m, d, s) AS g, m, d, s, count(*)
  FROM (SELECT to_char(received_on, 'YYYY-MM') AS m, department_id AS d, secrecy AS s
          FROM incoming_document
         WHERE received_on BETWEEN %(since)s AND %(until)s{depts}) x
 GROUP BY GROUPING SETS ((m), (d), (s))
"""
# GROUPING(a, b, c, d) is a bit mask, 1 for each argument NOT grouped in the row's set
_BY_FIRST_OF_4, _BY_SECOND_OF_4, _BY_THIRD_OF_4, _BY_FOURTH_OF_4 = 0b0111, 0b1011, 0b1101, 0b1110
_BY_FIRST_OF_3, _BY_SECOND_OF_3, _BY_THIRD_OF_3 = 0b011, 0b101, 0b110


def documents_report(filters: Filters, index: DepartmentIndex) -> list[Table]:
    params = _params(filters)
    outgoing = _rows(_OUTGOING_SQL.format(
        depts=_department_condition("drafting_department_id", filters)), params)
    incoming = _rows(_INCOMING_SQL.format(
        depts=_department_condition("department_id", filters)), params)
    out = {mask: {} for mask in (_BY_FIRST_OF_4, _BY_SECOND_OF_4, _BY_THIRD_OF_4,
                                 _BY_FOURTH_OF_4)}
    for g, m, d, t, s, count, numbered in outgoing:
        key = {_BY_FIRST_OF_4: m, _BY_SECOND_OF_4: d, _BY_THIRD_OF_4: t, _BY_FOURTH_OF_4: s}[g]
        out[g][key] = (count, numbered)
    inc = {mask: {} for mask in (_BY_FIRST_OF_3, _BY_SECOND_OF_3, _BY_THIRD_OF_3)}
    for g, m, d, s, count in incoming:
        inc[g][{_BY_FIRST_OF_3: m, _BY_SECOND_OF_3: d, _BY_THIRD_OF_3: s}[g]] = count
    counts = [Column("发文数", "int"), Column("其中已编号", "int"), Column("收文数", "int")]

    def row(label: str, sent: tuple[int, int] | None, received: int | None) -> list[Any]:
        sent = sent or (0, 0)
        return [label, sent[0], sent[1], received or 0]

    months = [row(m, out[_BY_FIRST_OF_4].get(m), inc[_BY_FIRST_OF_3].get(m))
              for m in _months(filters.since, filters.until)]
    dept_ids = set(out[_BY_SECOND_OF_4]) | set(inc[_BY_SECOND_OF_3])
    by_dept = sorted((row(index.label(d), out[_BY_SECOND_OF_4].get(d),
                          inc[_BY_SECOND_OF_3].get(d)) for d in dept_ids),
                     key=lambda r: (-r[1], -r[3], r[0]))
    by_type = sorted(([t, c, n] for t, (c, n) in out[_BY_THIRD_OF_4].items()),
                     key=lambda r: (-r[1], r[0]))
    by_secrecy = [[title, out[_BY_FOURTH_OF_4].get(level, (0, 0))[0],
                   inc[_BY_THIRD_OF_3].get(level, 0)] for level, title in SECRECY_TITLES.items()]
    total = row("合计", (sum(r[1] for r in months), sum(r[2] for r in months)),
                sum(r[3] for r in months))
    return [
        Table("months", "按月份", [Column("月份"), *counts], [*months, total], chart_column=1),
        Table("departments", "按部门", [Column("部门"), *counts], by_dept, chart_column=1),
        Table("doc_types", "发文按文种", [Column("文种"), counts[0], counts[1]], by_type,
              chart_column=1),
        Table("secrecy", "按密级", [Column("密级"), counts[0], counts[2]], by_secrecy,
              chart_column=1),
    ]


# ---- 办理时效 ------------------------------------------------------------
# hours as float8 (date_part), not numeric (extract returns numeric): a year's 190 000 values
# are sorted twice for the percentiles, and numeric comparisons are several times slower
_TIMELINESS_SQL = """
SELECT GROUPING(flow_code, node_key, node_name, department_id) AS g,
       flow_code, node_key, node_name, department_id, count(*), avg(hours),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY hours),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY hours),
       count(*) FILTER (WHERE due_at IS NOT NULL),
       count(*) FILTER (WHERE acted_at > due_at)
  FROM (SELECT i.flow_code, t.node_key, t.node_name, u.department_id, t.due_at, t.acted_at,
               date_part('epoch', t.acted_at - t.created_at) / 3600 AS hours
          FROM wf_task t
          JOIN app_user u ON u.id = t.assignee_id
          JOIN wf_instance i ON i.id = t.instance_id
         WHERE t.status = 'done' AND t.kind <> 'draft'
           AND t.acted_at >= %(start)s AND t.acted_at < %(end)s{depts}) x
 GROUP BY GROUPING SETS ((flow_code, node_key, node_name), (department_id), ())
"""
_BY_STEP, _BY_DEPARTMENT, _TOTAL = 0b0001, 0b1110, 0b1111
_TIMING = [Column("办理件数", "int"), Column("平均用时（小时）", "hours"),
           Column("中位用时（小时）", "hours"), Column("90%用时（小时）", "hours"),
           Column("有时限件数", "int"), Column("超期件数", "int"), Column("超期率（%）", "percent")]


def _flow_names() -> dict[str, str]:
    rows = _rows("SELECT DISTINCT ON (code) code, name FROM wf_definition"
                 " ORDER BY code, version DESC", {})
    return dict(rows)


def _timing(values: tuple) -> list[Any]:
    count, average, median, p90, with_deadline, overdue = values
    return [count, _hours(average), _hours(median), _hours(p90), with_deadline, overdue,
            _rate(overdue, with_deadline)]


def timeliness_report(filters: Filters, index: DepartmentIndex) -> list[Table]:
    rows = _rows(_TIMELINESS_SQL.format(depts=_department_condition("u.department_id", filters)),
                 _params(filters))
    flows = _flow_names()
    steps, departments, total = [], [], None
    for g, flow, _node_key, node_name, dept, *values in rows:
        if g == _BY_STEP:
            steps.append([flows.get(flow, flow), node_name, *_timing(tuple(values))])
        elif g == _BY_DEPARTMENT:
            departments.append([index.label(dept), *_timing(tuple(values))])
        elif g == _TOTAL and values[0]:
            total = _timing(tuple(values))
    steps.sort(key=lambda r: (r[0], -r[2]))
    departments.sort(key=lambda r: (-r[1], r[0]))
    if total:
        steps.append(["合计", "", *total])
        departments.append(["合计", *total])
    return [
        Table("steps", "按流程环节", [Column("流程"), Column("环节"), *_TIMING], steps,
              chart_column=None),
        Table("departments", "按部门（办理人所在部门）", [Column("部门"), *_TIMING], departments,
              chart_column=2),
    ]


# ---- 待办积压 / 工作量: per department and per person ------------------------------
_BACKLOG_SQL = """
SELECT GROUPING(u.department_id, t.assignee_id, u.name) AS g, u.department_id, t.assignee_id,
       u.name, count(*), count(*) FILTER (WHERE t.due_at < now()), min(t.created_at)
  FROM wf_task t JOIN app_user u ON u.id = t.assignee_id
 WHERE t.status IN ('open', 'waiting'){depts}
 GROUP BY GROUPING SETS ((u.department_id), (u.department_id, t.assignee_id, u.name), ())
"""
_WORKLOAD_SQL = """
SELECT GROUPING(u.department_id, t.assignee_id, u.name) AS g, u.department_id, t.assignee_id,
       u.name,
       count(*) FILTER (WHERE t.kind <> 'draft'),
       count(*) FILTER (WHERE t.kind = 'draft'),
       avg(date_part('epoch', t.acted_at - t.created_at) / 3600)
           FILTER (WHERE t.kind <> 'draft'),
       count(*) FILTER (WHERE t.acted_at > t.due_at)
  FROM wf_task t JOIN app_user u ON u.id = t.assignee_id
 WHERE t.status = 'done' AND t.acted_at >= %(start)s AND t.acted_at < %(end)s{depts}
 GROUP BY GROUPING SETS ((u.department_id), (u.department_id, t.assignee_id, u.name), ())
"""
_PER_DEPARTMENT, _PER_PERSON, _ALL = 0b011, 0b000, 0b111


def _split(rows: list[tuple], index: DepartmentIndex,
           values: Callable[[tuple], list[Any]]) -> tuple[list, list, list | None]:
    departments, people, total = [], [], None
    for g, dept, _user_id, name, *rest in rows:
        if g == _PER_DEPARTMENT:
            departments.append([index.label(dept), *values(tuple(rest))])
        elif g == _PER_PERSON:
            people.append([name, index.label(dept), *values(tuple(rest))])
        elif g == _ALL and rest[0]:
            total = values(tuple(rest))
    return departments, people, total


def _per_person(sql: str, filters: Filters, index: DepartmentIndex,
                values: Callable[[tuple], list[Any]], columns: list[Column]) -> list[Table]:
    """The department and person tables of a per-person query (busiest first)."""
    rows = _rows(sql.format(depts=_department_condition("u.department_id", filters)),
                 _params(filters))
    departments, people, total = _split(rows, index, values)
    departments.sort(key=lambda r: (-r[1], r[0]))
    people.sort(key=lambda r: (-r[2], -r[3], r[0]))
    if total:
        departments.append(["合计", *total])
    return [
        Table("departments", "按部门", [Column("部门"), *columns], departments, chart_column=1),
        Table("people", "按人员", [Column("姓名"), Column("部门"), *columns], people,
              chart_column=2, shown_rows=PERSON_ROWS_SHOWN),
    ]


def backlog_report(filters: Filters, index: DepartmentIndex) -> list[Table]:
    now = dt.datetime.now(dt.UTC)

    def values(v: tuple) -> list[Any]:
        count, overdue, oldest = v
        return [count, overdue, round((now - oldest).total_seconds() / 86400, 1)]

    return _per_person(_BACKLOG_SQL, filters, index, values, [
        Column("待办件数", "int"), Column("已超期件数", "int"), Column("最久待办（天）", "days")])


def workload_report(filters: Filters, index: DepartmentIndex) -> list[Table]:
    def values(v: tuple) -> list[Any]:
        handled, drafted, average, overdue = v
        return [handled, drafted, _hours(average), overdue]

    return _per_person(_WORKLOAD_SQL, filters, index, values, [
        Column("办理件数", "int"), Column("拟稿提交件数", "int"),
        Column("平均用时（小时）", "hours"), Column("超期办理件数", "int")])


REPORTS: dict[str, Report] = {r.key: r for r in (
    Report("documents", "公文统计", "发文、收文数量：按月份、部门、文种、密级", documents_report),
    Report("timeliness", "办理时效", "各流程环节、各部门的办理用时（平均、中位、90%）与超期情况",
           timeliness_report),
    Report("backlog", "待办积压", "当前未办结的待办：各部门、各人的件数、超期数与最久等待天数",
           backlog_report, uses_dates=False),
    Report("workload", "工作量", "区间内各部门、各人办理的待办件数与拟稿提交件数",
           workload_report),
)}


# ---- the units of work ------------------------------------------------------------
def run_report(ctx: RequestContext, key: str, data: dict[str, Any], *,
               exported: bool = False) -> ReportResult:
    """One report for the actor's visible departments; audited as viewed or exported."""
    report = REPORTS[key]
    # a year's tasks sort in memory (percentiles, grouping sets) instead of spilling to disk;
    # LOCAL: only this transaction, the pooled connection goes back with the default
    database.execute_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
    index = DepartmentIndex.load()
    filters = scope.resolve_filters(ctx, data, index)
    tables = report.build(filters, index)
    audit(ctx, "statistics.export" if exported else "statistics.view", object_type="report",
          object_id=key, details=filters.as_details())
    return ReportResult(report, filters, tables, scope.department_options(ctx, index))


def department_choices(ctx: RequestContext) -> list[dict[str, Any]]:
    """The departments the actor may filter on (for a form re-shown with errors)."""
    return scope.department_options(ctx, DepartmentIndex.load())


def report_menu(ctx: RequestContext) -> list[dict[str, Any]]:
    """The index page: the reports, once the actor's visibility is confirmed."""
    scope.visible_departments(ctx)
    return [{"key": r.key, "title": r.title, "summary": r.summary} for r in REPORTS.values()]
