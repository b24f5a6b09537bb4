"""Audit events as CSV (UTF-8 with BOM, so Excel opens the Chinese) or XLSX (openpyxl,
write-only: rows stream to disk, memory stays flat)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from app.audit.chain import utc_text

HEADERS = ["编号", "时间（本地）", "时间（UTC）", "操作人账号", "操作人姓名", "操作人编号",
           "来源IP", "操作", "对象类型", "对象编号", "结果", "详情", "请求编号", "客户端", "哈希"]
CONTENT_TYPES = {
    "csv": "text/csv; charset=UTF-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cells(event: dict[str, Any]) -> list[Any]:
    return [
        event["id"], event["occurred_local"],
        utc_text(event["occurred_at"]),
        event["actor_username"], event["actor_name"],
        "" if event["actor_id"] is None else event["actor_id"],
        event["ip"], event["action"], event["object_type"], event["object_id"] or "",
        event["outcome_title"],
        json.dumps(event["details"], ensure_ascii=False, sort_keys=True) if event["details"]
        else "",
        event["request_id"], event["user_agent"], event["hash"],
    ]


def _csv_safe(value: Any) -> Any:
    """Excel runs cells starting with = + - @ as formulas: neutralise user-supplied text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(events: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    """Write the BOM, the header and one line per event; returns the number of events."""
    stream.write("\ufeff")
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(HEADERS)
    count = 0
    for event in events:
        writer.writerow([_csv_safe(v) for v in _cells(event)])
        count += 1
    return count


def csv_bytes(events: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    write_csv(events, buffer)
    return buffer.getvalue().encode("utf-8")


def write_xlsx(events: Iterable[dict[str, Any]], target: str | Path | IO[bytes]) -> int:
    """One sheet 审计日志; every text cell is stored as text, never as a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审计日志")
    sheet.freeze_panes = "A2"
    sheet.append(HEADERS)
    count = 0
    for event in events:
        sheet.append([xlsx_text_cell(sheet, v) for v in _cells(event)])
        count += 1
    workbook.save(target)
    return count


def xlsx_text_cell(sheet: Any, value: Any) -> Any:
    """A write-only cell that keeps text as text (never a formula), for every XLSX export."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=_strip_illegal(value))
    cell.data_type = "s"  # a value starting with "=" would otherwise be written as a formula
    return cell


def _strip_illegal(text: str) -> str:
    """XML 1.0 cannot carry most control characters; openpyxl refuses them."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def xlsx_bytes(events: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(events, buffer)
    return buffer.getvalue()
