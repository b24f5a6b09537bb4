"""Bulk import of users from XLSX or CSV: every row is checked first, and either every row is
imported in the caller's one transaction or nothing is, with each problem reported by row and
column in Chinese.

Parsing (`read_rows`) is pure and runs off the IOLoop without the database; checking and
inserting (`import_users`) is a unit of work.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.context import RequestContext
from app.core.errors import ValidationError
from app.org import service
from app.org.forms import USER_SCHEMA, clean_each
from app.org.models import CLEARANCE_TITLES, Position
from app.org.names import username_base

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024

# Column titles in the file -> field names of USER_SCHEMA (部门 and 职务 are resolved by name).
COLUMNS = {
    "工号": "employee_no",
    "用户名": "username",
    "姓名": "name",
    "部门": "department",
    "职务": "position",
    "手机": "phone",
    "办公电话": "office_phone",
    "邮箱": "email",
    "密级": "clearance",
}
REQUIRED_COLUMNS = ("工号", "姓名", "部门")
FIELD_COLUMN = {v: k for k, v in COLUMNS.items()} | {
    "department_id": "部门", "position_id": "职务"}
_CLEARANCE_BY_TITLE = {title: level for level, title in CLEARANCE_TITLES.items()}


@dataclass
class RowError:
    row: int  # the row number as the spreadsheet shows it (the header is row 1)
    column: str
    message: str


@dataclass
class ImportResult:
    rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    created: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (format, size, header)."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": message}, message)


# ---- reading the file -------------------------------------------------------------------------
def read_rows(filename: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """[(row number, {column title: text})] from an XLSX or CSV file; raises ImportFileError."""
    if not content:
        raise ImportFileError("请选择要导入的文件（文件为空）")
    if len(content) > MAX_BYTES:
        raise ImportFileError(f"文件过大：最大 {MAX_BYTES // 1024 // 1024} MB")
    lower = filename.lower()
    if lower.endswith(".xlsx") or content[:2] == b"PK":
        table = _xlsx_table(content)
    elif lower.endswith((".csv", ".txt")):
        table = _csv_table(content)
    else:
        raise ImportFileError("只支持 .xlsx 或 .csv 文件")
    return _rows_from_table(table)


def _xlsx_table(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file
        raise ImportFileError(
            "无法读取该 Excel 文件，请确认是 .xlsx 格式（不支持旧版 .xls）") from None
    try:
        table: list[list[Any]] = []
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            table.append(list(values))
            if len(table) > MAX_ROWS + 1:
                break
        return table
    except Exception:
        raise ImportFileError("Excel 文件内容已损坏，无法读取") from None
    finally:
        workbook.close()


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")  # what a Chinese Excel saves as "CSV"
    except UnicodeDecodeError:
        raise ImportFileError("无法识别文件编码，请另存为 UTF-8 或 GB18030 编码的 CSV") from None


def _csv_table(content: bytes) -> list[list[Any]]:
    text = _decode(content)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    table: list[list[Any]] = []
    try:
        for values in csv.reader(io.StringIO(text, newline=""), dialect):
            table.append(values)
            if len(table) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise ImportFileError(f"CSV 格式有误：{exc}") from None
    return table


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows_from_table(table: list[list[Any]]) -> list[tuple[int, dict[str, str]]]:
    if not table:
        raise ImportFileError("文件中没有内容")
    header = [_cell_text(v) for v in table[0]]
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise ImportFileError("无法识别的列：" + "、".join(unknown)
                              + "。可用的列：" + "、".join(COLUMNS))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFileError("缺少必需的列：" + "、".join(missing) + "（请使用导入模板）")
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(table[1:], start=2):
        cells = {title: _cell_text(values[i]) if i < len(values) else ""
                 for i, title in enumerate(header) if title}
        if any(cells.values()):
            rows.append((number, cells))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"一次最多导入 {MAX_ROWS} 行，请拆分文件")
    if not rows:
        raise ImportFileError("文件中没有人员数据（第一行应为列名）")
    return rows


# ---- checking and importing -------------------------------------------------------------------
class _Resolver:
    """Departments by name or path, positions by name, as the file spells them."""

    def __init__(self) -> None:
        index = service.DepartmentIndex.load()
        self.by_path: dict[str, int] = {}
        by_name: dict[str, list[int]] = {}
        for dept in index.rows.values():
            if not dept.active:
                continue
            full = index.path(dept.id)
            self.by_path["/".join(full)] = dept.id
            if len(full) > 1:
                self.by_path["/".join(full[1:])] = dept.id
            by_name.setdefault(dept.name, []).append(dept.id)
        self.by_name = by_name
        self.positions = {p.name: p.id for p in Position.select(Position.id, Position.name)}

    def department(self, text: str) -> tuple[int | None, str]:
        path = "/".join(part.strip() for part in text.replace("\\", "/").split("/") if part)
        if path in self.by_path:
            return self.by_path[path], ""
        matches = self.by_name.get(path, [])
        if len(matches) == 1:
            return matches[0], ""
        if len(matches) > 1:
            return None, f"部门名称“{text}”不唯一，请填写完整路径，如 刑侦支队/{text}"
        return None, f"找不到部门“{text}”（或已停用），可填写部门名称或路径，如 刑侦支队/一大队"


def _clearance(text: str) -> Any:
    return _CLEARANCE_BY_TITLE.get(text, text)


def _check_row(cells: Mapping[str, str], resolver: _Resolver,
               allowed: set[int] | None) -> tuple[dict[str, Any], dict[str, str]]:
    raw: dict[str, Any] = {COLUMNS[title]: value for title, value in cells.items()}
    raw["username"] = raw.get("username", "").lower()
    raw["clearance"] = _clearance(raw.get("clearance", ""))
    errors: dict[str, str] = {}
    department_id, message = (resolver.department(raw["department"]) if raw.get("department")
                              else (None, "请填写部门"))
    if message:
        errors["department_id"] = message
    raw["department_id"] = department_id
    position_name = raw.get("position", "")
    raw["position_id"] = resolver.positions.get(position_name) if position_name else None
    if position_name and raw["position_id"] is None:
        errors["position_id"] = f"找不到职务“{position_name}”，请先在职务管理中添加"
    username_given = bool(raw["username"])
    data, field_errors = clean_each(USER_SCHEMA, raw)
    if not username_given:
        field_errors.pop("username", None)  # generated from the name once every row is good
    if "clearance" in field_errors:
        field_errors["clearance"] = "密级只能填写 0、1、2、3，或 非密、秘密、机密、绝密"
    for name, text in field_errors.items():
        errors.setdefault(name, text)  # the resolver's messages say more than the schema's
    data["username_given"] = username_given
    if department_id is not None:
        service.check_user_fields({"department_id": department_id}, errors, None, allowed)
    return data, errors


def _unique_username(stem: str, taken: set[str]) -> str:
    candidate, suffix = stem, 1
    while candidate in taken or service.username_taken(candidate):
        suffix += 1
        candidate = f"{stem}{suffix}"
    return candidate


def import_users(ctx: RequestContext, filename: str, rows: list[tuple[int, dict[str, str]]],
                 dry_run: bool = False) -> ImportResult:
    """Check every row; if all are good (and not `dry_run`), create every user."""
    allowed = service.scope_departments(ctx, service.MANAGE)
    resolver = _Resolver()
    result = ImportResult(rows=len(rows), dry_run=dry_run)
    checked: list[tuple[int, dict[str, Any]]] = []
    seen_usernames: dict[str, int] = {}
    seen_numbers: dict[str, int] = {}
    for number, cells in rows:
        data, errors = _check_row(cells, resolver, allowed)
        _check_duplicates(number, data, errors, seen_usernames, seen_numbers)
        for name, message in errors.items():
            result.errors.append(RowError(number, FIELD_COLUMN.get(name, name), message))
        checked.append((number, data))
    if not result.errors:
        taken = set(seen_usernames)
        for _, data in checked:
            if not data["username_given"]:
                data["username"] = _unique_username(username_base(data["name"]), taken)
                taken.add(data["username"])
    if result.errors or dry_run:
        service.audit(ctx, "org.user.import", "user",
                      details={"file": filename, "rows": len(rows), "dry_run": dry_run,
                               "errors": len(result.errors), "imported": 0},
                      outcome="failure" if result.errors else "success")
        return result
    for _, data in checked:
        user = service.insert_user(ctx, data)
        result.created.append({"id": user.id, "username": user.username, "name": user.name,
                               "employee_no": user.employee_no})
    result.imported = len(result.created)
    service.audit(ctx, "org.user.import", "user",
                  details={"file": filename, "rows": len(rows), "imported": result.imported,
                           "user_ids": [c["id"] for c in result.created]})
    return result


def _check_duplicates(number: int, data: dict[str, Any], errors: dict[str, str],
                      seen_usernames: dict[str, int], seen_numbers: dict[str, int]) -> None:
    username = data.get("username") if data.get("username_given") else None
    if username and "username" not in errors:
        if username in seen_usernames:
            errors["username"] = f"与第 {seen_usernames[username]} 行的用户名重复"
        elif service.username_taken(username):
            errors["username"] = f"用户名“{username}”已被使用（不区分大小写）"
        seen_usernames.setdefault(username, number)
    employee_no = data.get("employee_no")
    if employee_no and "employee_no" not in errors:
        if employee_no in seen_numbers:
            errors["employee_no"] = f"与第 {seen_numbers[employee_no]} 行的工号重复"
        elif service.employee_no_taken(employee_no):
            errors["employee_no"] = f"工号“{employee_no}”已被使用"
        seen_numbers.setdefault(employee_no, number)


def template_xlsx() -> bytes:
    """The import template: the header row, one example row on a second sheet, and notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "人员"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHI", (10, 14, 10, 22, 12, 14, 14, 24, 8), strict=True):
        sheet.column_dimensions[column].width = width
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in (
        ("工号", "必填，字母、数字或连字符，不能与已有人员重复，如 010001"),
        ("用户名", "选填，小写字母、数字、点、下划线、连字符；不填则按姓名拼音生成"),
        ("姓名", "必填"),
        ("部门", "必填，部门名称或路径，如 办公室、刑侦支队/一大队"),
        ("职务", "选填，须是系统中已有的职务，如 民警、科员"),
        ("手机", "选填，11 位手机号"),
        ("办公电话", "选填，如 8123 或 0571-87001234"),
        ("邮箱", "选填"),
        ("密级", "选填，0 非密、1 秘密、2 机密、3 绝密，也可直接填写“秘密”等；默认非密"),
        ("说明", f"只导入第一个工作表；一次最多 {MAX_ROWS} 行；任一行有误则全部不导入"),
    ):
        notes.append(list(row))
    example = workbook.create_sheet("示例")
    example.append(list(COLUMNS))
    example.append(["019999", "", "张三", "刑侦支队/一大队", "民警", "13800000000",
                    "8123", "zhangsan@example.gov.cn", "0"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
