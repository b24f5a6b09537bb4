"""统计分析 pages: the report menu, each report (filters, tables, SVG charts) and its XLSX."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from app.core.db import run_blocking
from app.core.errors import NotFound, ValidationError
from app.core.web import ApiHandler, BaseHandler, requires
from app.statistics import charts, export, scope, service


def _query_string(data: dict[str, Any]) -> str:
    pairs = {"since": data["since"].isoformat(), "until": data["until"].isoformat()}
    if data["department"]:
        pairs["department"] = data["department"]
    return urlencode(pairs)


def _department_title(result: service.ReportResult) -> str:
    chosen = result.filters.department_id
    if chosen is None:
        return "全部部门" if result.filters.departments is None else "您可查看的全部部门"
    label = next((o["label"] for o in result.departments if o["id"] == chosen), str(chosen))
    return f"{label}（含下级部门）"


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value:.1f}%"
    if kind in {"hours", "days"}:
        return f"{value:.1f}"
    return str(value)


def _raw_filters(handler: BaseHandler) -> dict[str, str]:
    return {k: v for k, v in handler.form_data().items() if isinstance(v, str)}


def _report(key: str) -> service.Report:
    if key not in service.REPORTS:
        raise NotFound("没有这张报表")
    return service.REPORTS[key]


class IndexHandler(BaseHandler):
    """/statistics: the fixed reports."""

    @requires(scope.VIEW)
    async def get(self) -> None:
        menu = await self.run(service.report_menu, self.ctx)
        self.render("statistics/index.html", page_title="统计分析", reports=menu)


class ReportHandler(BaseHandler):
    """/statistics/<report>: filters, tables and charts; bad filters are a Chinese 400."""

    @requires(scope.VIEW)
    async def get(self, key: str) -> None:
        report = _report(key)
        raw = _raw_filters(self)
        try:
            data = scope.parse_filters(raw)
        except ValidationError as error:
            departments = await self.run(service.department_choices, self.ctx)
            self.set_status(400)
            self.render_page(report, raw, error.fields, None, "", departments)
            return
        result = await self.run(service.run_report, self.ctx, key, data)
        self.render_page(report, raw, {}, result, _query_string(data), result.departments)

    def render_page(self, report: service.Report, raw: dict[str, str], errors: dict[str, str],
                    result: service.ReportResult | None, query: str,
                    departments: list[dict[str, Any]]) -> None:
        if result is not None:
            raw = {"since": result.filters.since.isoformat(),
                   "until": result.filters.until.isoformat(),
                   "department": str(result.filters.department_id or "")}
        self.render("statistics/report.html", page_title=report.title, report=report,
                    reports=service.REPORTS, form=raw, errors=errors, result=result,
                    query=query, fields=scope.FILTER_SCHEMA.fields, departments=departments,
                    chart_for=charts.chart_for, cell=_cell,
                    department_title=_department_title(result) if result else "")


class ExportHandler(BaseHandler):
    """/statistics/<report>.xlsx: the same tables as the page, every row."""
    shows_menu = False

    @requires(scope.VIEW)
    async def get(self, key: str) -> None:
        _report(key)
        data = scope.parse_filters(_raw_filters(self))
        result = await self.run(service.run_report, self.ctx, key, data, exported=True)
        body = await run_blocking(export.xlsx_bytes, result, _department_title(result))
        stamp = result.generated_at.strftime("%Y%m%d-%H%M%S")
        self.set_header("Content-Type", export.XLSX_CONTENT_TYPE)
        self.set_header("Content-Disposition",
                        f'attachment; filename="statistics-{key}-{stamp}.xlsx"')
        self.finish(body)


_TABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "title": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "object", "properties": {
            "title": {"type": "string"},
            "kind": {"type": "string", "enum": ["text", "int", "hours", "days", "percent"]}}}},
        "rows": {"type": "array", "items": {"type": "array", "items": {}},
                 "description": "每行与 columns 对应；无数据的比率为 null；“合计”行在最后"},
    },
}
REPORT_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "report": {"type": "string", "enum": list(service.REPORTS)},
        "title": {"type": "string"},
        "since": {"type": "string", "format": "date"},
        "until": {"type": "string", "format": "date"},
        "department": {"type": "integer", "nullable": True},
        "generated_at": {"type": "string", "format": "date-time"},
        "tables": {"type": "array", "items": _TABLE_SCHEMA},
    },
}


def report_json(result: service.ReportResult) -> dict[str, Any]:
    return {
        "report": result.report.key, "title": result.report.title,
        "since": result.filters.since, "until": result.filters.until,
        "department": result.filters.department_id, "generated_at": result.generated_at,
        "tables": [{"key": t.key, "title": t.title,
                    "columns": [{"title": c.title, "kind": c.kind} for c in t.columns],
                    "rows": t.rows} for t in result.tables],
    }


class ReportApiHandler(ApiHandler):
    """GET /api/statistics/<report>: the report's tables as JSON (every row)."""

    openapi = {
        "get": {
            "summary": "统计报表（documents 公文统计、timeliness 办理时效、backlog 待办积压、"
                       "workload 工作量）",
            "tags": ["统计分析"],
            "query": scope.FILTER_SCHEMA,
            "response": REPORT_RESPONSE,
        }
    }

    @requires(scope.VIEW)
    async def get(self, key: str) -> None:
        _report(key)
        data = scope.parse_filters(_raw_filters(self))
        result = await self.run(service.run_report, self.ctx, key, data)
        self.write_json(report_json(result))
