"""A report as an XLSX workbook: a cover sheet with the filters, then one sheet per table."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

from app.audit.export import CONTENT_TYPES
from app.audit.export import xlsx_text_cell as text_cell
from app.statistics.service import ReportResult

XLSX_CONTENT_TYPE = CONTENT_TYPES["xlsx"]


def _cover(result: ReportResult, department: str) -> list[list[Any]]:
    filters = result.filters
    rows = [["报表", result.report.title], ["说明", result.report.summary]]
    if result.report.uses_dates:
        rows.append(["统计区间", f"{filters.since.isoformat()} 至 {filters.until.isoformat()}"])
    rows += [["部门范围", department],
             ["生成时间", result.generated_at.strftime("%Y-%m-%d %H:%M:%S")]]
    return rows


def xlsx_bytes(result: ReportResult, department: str) -> bytes:
    workbook = Workbook(write_only=True)
    cover = workbook.create_sheet("说明")
    for row in _cover(result, department):
        cover.append([text_cell(cover, v) for v in row])
    for table in result.tables:
        sheet = workbook.create_sheet(table.title[:31])
        sheet.freeze_panes = "A2"
        sheet.append([text_cell(sheet, c.title) for c in table.columns])
        for row in table.rows:
            sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
