"""The 安全审计员's screens: search, export, daily counts, and the events API."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from app.audit import export, service
from app.audit.models import OUTCOME_TITLES
from app.core.db import run_blocking
from app.core.errors import ValidationError
from app.core.forms import Choice, Date, Integer, Schema, Text
from app.core.web import ApiHandler, BaseHandler, requires

_FILTER_FIELDS = (
    Text("actor", "操作人", required=False, max_length=60, help="账号或姓名（完全匹配）"),
    Text("action", "操作", required=False, max_length=100,
         help="完整的操作名，如 auth.login.failure；以 . 或 * 结尾表示前缀，如 auth."),
    Text("object_type", "对象类型", required=False, max_length=100),
    Text("object_id", "对象编号", required=False, max_length=200),
    Choice("outcome", "结果", OUTCOME_TITLES, required=False),
    Date("since", "开始日期", required=False, help="本地日期（北京时间），含当天"),
    Date("until", "结束日期", required=False, help="本地日期（北京时间），含当天"),
)
FILTERS = Schema(*_FILTER_FIELDS)
SEARCH = Schema(
    *_FILTER_FIELDS,
    Integer("before", "从此编号之前", required=False, minimum=1,
            help="翻页：上一页返回的 next_before"),
    Integer("limit", "每页条数", required=False, minimum=1, maximum=service.PAGE_SIZE_MAX,
            default=service.PAGE_SIZE),
)
_FILTER_NAMES = [f.name for f in _FILTER_FIELDS]

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "occurred_at": {"type": "string", "format": "date-time", "description": "UTC"},
        "occurred_local": {"type": "string", "description": "本地时间，如 2026-11-24 10:15:03"},
        "actor_id": {"type": "integer", "nullable": True},
        "actor_username": {"type": "string"},
        "actor_name": {"type": "string"},
        "ip": {"type": "string"},
        "user_agent": {"type": "string"},
        "request_id": {"type": "string"},
        "action": {"type": "string"},
        "object_type": {"type": "string"},
        "object_id": {"type": "string", "nullable": True},
        "outcome": {"type": "string", "enum": list(OUTCOME_TITLES)},
        "outcome_title": {"type": "string"},
        "details": {"type": "object"},
        "hash": {"type": "string"},
    },
}
EVENTS_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": EVENT_SCHEMA},
        "next_before": {"type": "integer", "nullable": True,
                        "description": "下一页（更早的记录）的 before 参数；没有更多时为 null"},
    },
}


def _query_string(data: dict[str, Any], **extra: Any) -> str:
    pairs = {name: data.get(name) for name in _FILTER_NAMES}
    pairs.update(extra)
    return urlencode({k: (v.isoformat() if isinstance(v, dt.date) else v)
                      for k, v in pairs.items() if v not in (None, "")})


class AuditSearchHandler(BaseHandler):
    """/audit: the search form and one page of matching events, newest first."""

    @requires("audit.view")
    async def get(self) -> None:
        raw = {k: v for k, v in self.form_data().items() if isinstance(v, str)}
        try:
            data = SEARCH.validate(raw)
            query = service.AuditQuery.from_form(data)
        except ValidationError as error:
            self.render_page(raw, errors=error.fields, page=None)
            return
        page = await self.run(service.search, self.ctx, query, before=data["before"],
                              limit=data["limit"] or service.PAGE_SIZE)
        self.render_page(raw, errors={}, page=page, data=data)

    def render_page(self, raw: dict[str, str], errors: dict[str, str],
                    page: service.SearchPage | None, data: dict[str, Any] | None = None) -> None:
        filters = _query_string(data or {})
        next_url = None
        if page and page.next_before:
            next_url = "/audit?" + _query_string(data or {}, before=page.next_before)
        self.render("audit/search.html", page_title="安全审计", form=raw, errors=errors,
                    page=page, filters=filters, next_url=next_url,
                    first_page=bool(data and data.get("before")), outcomes=OUTCOME_TITLES,
                    fields={f.name: f for f in _FILTER_FIELDS},
                    export_limit=service.EXPORT_LIMIT, retention_days=_retention_days(),
                    details_text=_details_text)


def _details_text(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True)


def _retention_days() -> int:
    from app.core.config import settings

    return settings().audit_retention_days


class AuditExportHandler(BaseHandler):
    """/audit/export.csv and /audit/export.xlsx: the filtered events as a file (bounded)."""
    shows_menu = False

    @requires("audit.export")
    async def get(self, file_format: str) -> None:
        data = FILTERS.validate({k: v for k, v in self.form_data().items()
                                 if isinstance(v, str)})
        query = service.AuditQuery.from_form(data)
        result = await self.run(service.export_events, self.ctx, query, file_format)
        build = export.csv_bytes if file_format == "csv" else export.xlsx_bytes
        body = await run_blocking(build, result.events)
        stamp = dt.datetime.now(service.local_zone()).strftime("%Y%m%d-%H%M%S")
        self.set_header("Content-Type", export.CONTENT_TYPES[file_format])
        self.set_header("Content-Disposition",
                        f'attachment; filename="audit-{stamp}.{file_format}"')
        self.set_header("X-Export-Rows", str(len(result.events)))
        self.set_header("X-Export-Truncated", "1" if result.truncated else "0")
        self.finish(body)


CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 600, 200, 16, 22


def chart_bars(days: list[service.DayCount]) -> list[dict[str, Any]]:
    """SVG geometry for a bar per day (viewBox 600 x 200), labels every 5th day."""
    if not days:
        return []
    peak = max(d.count for d in days) or 1
    slot = CHART_WIDTH / len(days)
    usable = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    bars = []
    for index, day in enumerate(days):
        height = round(usable * day.count / peak, 1) if day.count else 0
        bars.append({
            "day": day.day, "count": day.count,
            "x": round(index * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1),
            "y": round(CHART_TOP + usable - height, 1), "height": height,
            "label_x": round(index * slot + (0 if index == 0 else slot if index == len(days) - 1
                                             else slot / 2), 1),
            "anchor": _anchor(index, len(days)),
            "label": day.day.strftime("%m-%d") if index % 5 == 0 or index == len(days) - 1
            else "",
        })
    return bars


def _anchor(index: int, count: int) -> str:
    """Keep the first and last day labels inside the chart."""
    return "start" if index == 0 else "end" if index == count - 1 else "middle"


class AuditStatsHandler(BaseHandler):
    """/audit/stats: events per day over the last 30 days, and per outcome."""

    @requires("audit.view")
    async def get(self) -> None:
        stats = await self.run(service.daily_counts, self.ctx)
        self.render("audit/stats.html", page_title="审计统计", stats=stats,
                    bars=chart_bars(stats.days), outcomes=OUTCOME_TITLES,
                    chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT,
                    baseline=CHART_HEIGHT - CHART_BOTTOM, peak=max(
                        (d.count for d in stats.days), default=0),
                    retention_days=_retention_days())


class AuditEventsApiHandler(ApiHandler):
    """GET /api/audit/events: filtered events, newest first, keyset-paginated."""

    openapi = {
        "get": {
            "summary": "查询审计日志（按时间倒序，分页）",
            "tags": ["安全审计"],
            "query": SEARCH,
            "response": EVENTS_RESPONSE,
        }
    }

    @requires("audit.view")
    async def get(self) -> None:
        data = SEARCH.validate({k: v for k, v in self.form_data().items()
                                if isinstance(v, str)})
        query = service.AuditQuery.from_form(data)
        page = await self.run(service.search, self.ctx, query, before=data["before"],
                              limit=data["limit"] or service.PAGE_SIZE)
        self.write_json({"items": page.items, "next_before": page.next_before})
