"""The fixed statistics reports (统计分析) against a copy of the seeded year: ≤ 2 s each.

    python -m bench.reports                      # every report, realistic filters, 3 rounds
    python -m bench.reports --explain            # EXPLAIN (ANALYZE, BUFFERS) of every query
    python -m bench.reports --without-indexes    # the same with the feature's indexes dropped

Runs on its own private cluster (var/bench/reports-pg, port 55434, unix socket only), so that
it never stops or drops what `make bench` is using at the same time; the seeded template is
built there by the same code as the load benchmark's (bench.run.ensure_template), and each run
works on a fresh copy. The seed has no 收文, so the copy first gets a year of them (30 000, by
SQL), the size a bureau of this scale receives. Each report runs as the app runs it: the
service's unit of work (queries, assembly, audit row) in one transaction, plus the XLSX export,
timed from the caller. Results go to bench/results/reports-<UTC time>.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.report import stamp as result_stamp
from bench.run import RESULTS, VAR, ensure_template, log
from bench.seed import FULL, USERNAME_PREFIX
from ops_cli.pgcluster import RUNTIME_ROLE, LocalCluster

CLONE = "oa_bench_reports"
LIMIT_SECONDS = 2.0
SLOW_SECONDS = 0.5  # EXPLAIN ANALYZE is recorded for queries of reports slower than this
INDEXES = ("stat_task_done_acted", "stat_task_pending", "stat_outgoing_created",
           "stat_incoming_received")

_INCOMING_SQL = """  -- run by psql, no parameters
INSERT INTO incoming_document (status, receipt_no, receipt_code, receipt_year, receipt_seq,
        source_unit, source_number, title, secrecy, urgency, received_on, department_id,
        registered_at, created_at)
SELECT 'registered', format('X公收〔%s〕%s号', y, g), 'X公', y, g,
       (ARRAY['省公安厅', '市委办公室', '市政府办公室', '市政法委'])[1 + g % 4],
       format('来文〔%s〕%s号', y, g), format('关于%s工作的通知', g),
       CASE WHEN g % 20 = 0 THEN 1 ELSE 0 END, '普通', day, dept, now(), now()
  FROM (SELECT g, (now() AT TIME ZONE 'Asia/Shanghai')::date - (g % 365) AS day,
               extract(year FROM now())::int AS y,
               (SELECT array_agg(id ORDER BY id) FROM department) AS depts
          FROM generate_series(1, 30000) AS g) s,
       LATERAL (SELECT depts[1 + g % cardinality(depts)] AS dept) d
"""


@dataclasses.dataclass
class Case:
    report: str
    label: str
    data: dict[str, Any]


def cluster() -> LocalCluster:
    return LocalCluster(VAR / "reports-pg", port=55434, database=CLONE)


def fresh_clone(pg: LocalCluster, template: str, without_indexes: bool) -> None:
    pg.drop_database(CLONE)
    pg.psql(f'CREATE DATABASE "{CLONE}" TEMPLATE "{template}" OWNER oa_owner')
    pg.psql(f'GRANT CONNECT, TEMPORARY ON DATABASE "{CLONE}" TO "{RUNTIME_ROLE}"')
    pg.psql(_INCOMING_SQL, database=CLONE)
    if without_indexes:
        for name in INDEXES:
            pg.psql(f"DROP INDEX IF EXISTS {name}", database=CLONE)
    pg.psql("VACUUM ANALYZE incoming_document", database=CLONE)


def largest_department(pg: LocalCluster) -> tuple[int, str, int]:
    """The top-level department with the most people below it: a 支队 leader's view."""
    row = pg.psql("""
        WITH RECURSIVE tree(top, id) AS (
            SELECT d.id, d.id FROM department d
             WHERE d.parent_id = (SELECT id FROM department WHERE parent_id IS NULL LIMIT 1)
            UNION ALL SELECT t.top, c.id FROM department c JOIN tree t ON c.parent_id = t.id)
        SELECT t.top || '|' || d.name || '|' || count(u.id) FROM tree t
          JOIN department d ON d.id = t.top LEFT JOIN app_user u ON u.department_id = t.id
         GROUP BY t.top, d.name ORDER BY count(u.id) DESC LIMIT 1""", database=CLONE)
    top, name, people = row.split("|")
    return int(top), name, int(people)


def cases(department: tuple[int, str, int]) -> list[Case]:
    today = dt.datetime.now(dt.UTC).date()
    year = {"since": today - dt.timedelta(days=365), "until": today, "department": None}
    month = {"since": today - dt.timedelta(days=29), "until": today, "department": None}
    quarter = {"since": today - dt.timedelta(days=91), "until": today,
               "department": department[0]}
    found = []
    for key in ("documents", "timeliness", "backlog", "workload"):
        found.append(Case(key, "全局·近一年（366天）", year))
        if key != "backlog":  # the backlog is as of now, whatever the dates
            found.append(Case(key, "全局·近30天", month))
        found.append(Case(key, f"{department[1]}（{department[2]}人）·近一季度", quarter))
    return found


def principal(pg: LocalCluster) -> Any:
    """A bench user holding statistics.view at scope 全部 (the 办公室's grant)."""
    from app.core.context import Principal, RequestContext
    from app.core.features import Scope
    from app.statistics.scope import VIEW

    row = pg.psql(f"SELECT id || '|' || username || '|' || department_id FROM app_user "
                  f"WHERE username LIKE '{USERNAME_PREFIX}%' ORDER BY id LIMIT 1",
                  database=CLONE)
    user_id, username, dept = row.split("|")
    who = Principal(user_id=int(user_id), username=username, name="基准统计员",
                    department_id=int(dept), session_id="bench",
                    permissions={VIEW: Scope.ALL})
    return RequestContext(principal=who, ip="127.0.0.1", request_id="bench-reports")


@contextmanager
def recording_queries() -> Iterator[list[tuple[str, Any]]]:
    """Record the SQL the reports send (to EXPLAIN it afterwards); bench-only patching."""
    from app.core.db import database

    recorded: list[tuple[str, Any]] = []
    original = database.obj.execute_sql

    def execute_sql(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if "GROUPING" in sql:
            recorded.append((sql, params))
        return original(sql, params, *args, **kwargs)

    database.obj.execute_sql = execute_sql
    try:
        yield recorded
    finally:
        database.obj.execute_sql = original


def run_once(ctx: Any, case: Case) -> tuple[float, float, int]:
    """(seconds of the unit of work, seconds of the XLSX, rows) for one report."""
    from app.core.db import run_in_transaction
    from app.statistics import export, service

    started = time.perf_counter()
    result = run_in_transaction(service.run_report, ctx, case.report, dict(case.data))
    middle = time.perf_counter()
    export.xlsx_bytes(result, "bench")
    return middle - started, time.perf_counter() - middle, sum(len(t.rows) for t in result.tables)


def explain(queries: list[tuple[str, Any]]) -> list[str]:
    from app.core.db import database, run_in_transaction
    from app.statistics.service import REPORT_WORK_MEM

    def plans() -> list[str]:
        database.execute_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        texts = []
        for sql, params in queries:
            cursor = database.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            texts.append("\n".join(r[0] for r in cursor.fetchall()))
        return texts

    return run_in_transaction(plans)


def measure(pg: LocalCluster, rounds: int, always_explain: bool) -> list[dict[str, Any]]:
    ctx = principal(pg)
    results = []
    for case in cases(largest_department(pg)):
        load = os.getloadavg()[0]
        with recording_queries() as queries:
            timings = [run_once(ctx, case) for _ in range(rounds)]
        work = [t[0] for t in timings]
        entry = {"report": case.report, "case": case.label, "rows": timings[-1][2], "load": load,
                 "median": statistics.median(work), "max": max(work),
                 "xlsx": statistics.median(t[1] for t in timings), "plans": []}
        if always_explain or entry["max"] > SLOW_SECONDS:
            entry["plans"] = explain(queries[:len(queries) // rounds])
        log(f"{case.report:<11} {case.label}: 中位 {entry['median']:.3f} s，最长 "
            f"{entry['max']:.3f} s，导出 {entry['xlsx']:.3f} s，{entry['rows']} 行，"
            f"负载 {load:.1f}")
        results.append(entry)
    return results


def write_report(results: list[dict[str, Any]], conditions: dict[str, Any]) -> Path:
    from app.statistics.service import REPORTS

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result_stamp()
    path = RESULTS / f"reports-{stamp}.md"
    lines = [f"# 统计报表耗时（{stamp}）", "",
             f"模板 `{conditions['template']}`；{conditions['rounds']} 轮取中位与最长；"
             f"统计专用索引：{'已删除（对照）' if conditions['without_indexes'] else '保留'}。", "",
             "负载：测量开始时的 1 分钟平均负载（本机 2 核；其他进程同时运行时偏高，"
             "耗时随之变长）。",
             "",
             "| 报表 | 条件 | 中位（秒） | 最长（秒） | 导出 XLSX（秒） | 行数 | 负载 | ≤ 2 秒 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        ok = "是" if r["max"] + r["xlsx"] <= LIMIT_SECONDS else "**否**"
        lines.append(f"| {REPORTS[r['report']].title} | {r['case']} | {r['median']:.3f} | "
                     f"{r['max']:.3f} | {r['xlsx']:.3f} | {r['rows']} | {r['load']:.1f} | {ok} |")
    for r in results:
        for plan in r["plans"]:
            lines += ["", f"## {REPORTS[r['report']].title} · {r['case']}", "", "```", plan,
                      "```"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="统计报表耗时（种子数据的一年）")
    parser.add_argument("--rounds", type=int, default=3, help="每张报表的轮数（默认 3）")
    parser.add_argument("--explain", action="store_true", help="记录每条查询的执行计划")
    parser.add_argument("--without-indexes", action="store_true",
                        help="在副本里删除统计专用索引后测量（对照）")
    parser.add_argument("--keep", action="store_true", help="结束后不停止集群、不删除副本")
    args = parser.parse_args()
    from app.core.db import close_database, init_database

    VAR.mkdir(parents=True, exist_ok=True)
    pg = cluster()
    pg.ensure()
    try:
        template, _ = ensure_template(pg, FULL)
        log(f"复制模板 {template} 并补充 3 万件收文…")
        fresh_clone(pg, template, args.without_indexes)
        init_database(pg.url(RUNTIME_ROLE, CLONE), 2, 1)
        try:
            results = measure(pg, max(1, args.rounds), args.explain)
        finally:
            close_database()
        path = write_report(results, {"template": template, "rounds": args.rounds,
                                      "without_indexes": args.without_indexes})
        log(f"报告：{path}")
    finally:
        if not args.keep:
            pg.drop_database(CLONE)
            pg.stop()


if __name__ == "__main__":
    main()
