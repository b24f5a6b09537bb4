"""Bulk import: all rows or none, per-row Chinese errors, XLSX and CSV in UTF-8 or GB18030."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from app.core.errors import PermissionDenied
from app.org import importer, service
from app.org.models import User

HEADER = ["工号", "用户名", "姓名", "部门", "职务", "手机", "办公电话", "邮箱", "密级"]
GOOD_ROWS = [
    ["030001", "liming", "李明", "刑侦支队/一大队", "民警", "13900001111", "8101", "", "秘密"],
    ["030002", "", "单雪", "办公室", "科员", "", "", "shanxue@gaj.x.gov.cn", "0"],
    ["030003", "WangFang", "王芳", "X市公安局/交警支队/秩序大队", "辅警", "", "", "", ""],
]


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    lines = [",".join(HEADER)] + [",".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append([int(c) if c.isdigit() and len(c) == 11 else c for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run_import(call, ctx, filename, content, dry_run=False):
    rows = importer.read_rows(filename, content)
    return call(importer.import_users, ctx, filename, rows, dry_run)


def imported_count(call) -> int:
    return call(lambda: User.select().where(User.employee_no.startswith("03")).count())


def test_good_csv_imports_every_row(bureau, admin_ctx, call) -> None:
    result = run_import(call, admin_ctx, "人员.csv", csv_bytes(GOOD_ROWS))
    assert result.ok and result.imported == 3
    assert [c["username"] for c in result.created] == ["liming", "shanxue", "wangfang"]
    li = call(lambda: User.get(User.employee_no == "030001"))
    assert (li.clearance, li.phone, li.name_initials) == (1, "13900001111", "lm")
    found = call(service.addressbook, admin_ctx, {"q": "shanxue"})
    assert [i["name"] for i in found["items"]] == ["单雪"]


def test_one_bad_row_imports_nothing_and_names_the_row(bureau, admin_ctx, call) -> None:
    rows = [*GOOD_ROWS, ["030004", "zhaoliu", "赵六", "不存在的部门", "民警", "123", "", "", "9"]]
    result = run_import(call, admin_ctx, "人员.csv", csv_bytes(rows))
    assert not result.ok and result.imported == 0
    errors = {(e.row, e.column): e.message for e in result.errors}
    assert errors == {
        (5, "部门"): "找不到部门“不存在的部门”（或已停用），"
                     "可填写部门名称或路径，如 刑侦支队/一大队",
        (5, "手机"): "手机格式不正确（手机号11位，或区号-号码）",
        (5, "密级"): "密级只能填写 0、1、2、3，或 非密、秘密、机密、绝密",
    }
    assert imported_count(call) == 0


def test_duplicates_within_the_file_and_against_the_database(bureau, admin_ctx, call) -> None:
    call(service.create_department, admin_ctx,
         {"name": "一大队", "parent_id": bureau["X市公安局/交警支队"]})
    rows = [
        ["030001", "liming", "李明", "办公室", "", "", "", "", ""],
        ["030001", "LiMing", "李明", "办公室", "", "", "", "", ""],
        ["010001", "wangjianguo", "王建国", "办公室", "局长", "", "", "", ""],
        ["030005", "", "赵五", "一大队", "", "", "", "", ""],
    ]
    result = run_import(call, admin_ctx, "dup.csv", csv_bytes(rows))
    messages = {(e.row, e.column): e.message for e in result.errors}
    assert messages[(3, "工号")] == "与第 2 行的工号重复"
    assert messages[(3, "用户名")] == "与第 2 行的用户名重复"
    assert messages[(4, "工号")] == "工号“010001”已被使用"
    assert messages[(4, "用户名")] == "用户名“wangjianguo”已被使用（不区分大小写）"
    assert messages[(5, "部门")].startswith("部门名称“一大队”不唯一")
    assert imported_count(call) == 0


def test_gb18030_csv_from_a_chinese_excel(bureau, admin_ctx, call) -> None:
    result = run_import(call, admin_ctx, "export.csv", csv_bytes(GOOD_ROWS, "gb18030"))
    assert result.ok and result.imported == 3
    assert call(lambda: User.get(User.employee_no == "030002").name) == "单雪"


def test_utf8_without_bom(bureau, admin_ctx, call) -> None:
    result = run_import(call, admin_ctx, "plain.csv", csv_bytes(GOOD_ROWS, "utf-8"))
    assert result.imported == 3


def test_xlsx(bureau, admin_ctx, call) -> None:
    result = run_import(call, admin_ctx, "人员.xlsx", xlsx_bytes(GOOD_ROWS))
    assert result.ok and result.imported == 3
    assert call(lambda: User.get(User.employee_no == "030001").phone) == "13900001111"


def test_dry_run_checks_without_importing(bureau, admin_ctx, call) -> None:
    result = run_import(call, admin_ctx, "人员.csv", csv_bytes(GOOD_ROWS), dry_run=True)
    assert result.ok and result.imported == 0
    assert imported_count(call) == 0


def test_file_level_problems(bureau) -> None:
    with pytest.raises(importer.ImportFileError, match="只支持"):
        importer.read_rows("people.doc", b"abc")
    with pytest.raises(importer.ImportFileError, match="文件过大"):
        importer.read_rows("big.csv", b"x" * (importer.MAX_BYTES + 1))
    with pytest.raises(importer.ImportFileError, match="缺少必需的列：部门"):
        importer.read_rows("a.csv", "工号,姓名\n1,张三\n".encode())
    with pytest.raises(importer.ImportFileError, match="无法识别的列：年龄"):
        importer.read_rows("a.csv", "工号,姓名,部门,年龄\n1,张三,办公室,30\n".encode())
    with pytest.raises(importer.ImportFileError, match="无法读取该 Excel 文件"):
        importer.read_rows("a.xlsx", b"PK\x03\x04broken")
    many = "工号,姓名,部门\n" + "".join(f"{i},张三,办公室\n" for i in range(5001))
    with pytest.raises(importer.ImportFileError, match="一次最多导入 5000 行"):
        importer.read_rows("many.csv", many.encode())
    with pytest.raises(importer.ImportFileError, match="无法识别文件编码"):
        importer.read_rows("bin.csv", bytes([0x81, 0x30, 0xFF, 0xFF, 0x00]))


def test_template_has_the_columns_import_expects() -> None:
    workbook = load_workbook(io.BytesIO(importer.template_xlsx()))
    assert [c.value for c in workbook.worksheets[0][1]] == HEADER
    with pytest.raises(importer.ImportFileError, match="没有人员数据"):
        importer.read_rows("template.xlsx", importer.template_xlsx())


def test_import_needs_org_manage(bureau, staff_ctx, call) -> None:
    rows = importer.read_rows("a.csv", csv_bytes(GOOD_ROWS))
    with pytest.raises(PermissionDenied):
        call(importer.import_users, staff_ctx, "a.csv", rows, False)
