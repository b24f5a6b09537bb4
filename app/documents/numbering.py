"""Gapless numbering: 发文字号, 流水号, 收文号 and the 档号's 件号.

Every number comes from one counter row per (kind, code, year), taken by

    INSERT INTO doc_counter ... ON CONFLICT (kind, code, year)
        DO UPDATE SET last_value = doc_counter.last_value + 1 RETURNING last_value

in the caller's transaction. The statement locks the row exactly as SELECT .. FOR UPDATE
would, until that transaction ends: a concurrent taker waits, then reads the committed value
and adds one; if the first transaction rolls back, its number was never taken and the waiter
gets it. Hence numbers are unique and without gaps, as long as the number is stored in the
same transaction as it is taken (which every caller here does). A sequence would not do:
sequences are never rolled back.
"""

from __future__ import annotations

import datetime as dt
import re

from app.core.db import database
from app.core.errors import ValidationError
from app.documents.constants import DEFAULT_OUTGOING_PATTERN
from app.documents.models import NumberRule
from app.org.models import Department
from app.org.service import DepartmentIndex

_TAKE = (
    "INSERT INTO doc_counter (kind, code, year, last_value) VALUES (%s, %s, %s, 1) "
    "ON CONFLICT (kind, code, year) DO UPDATE SET last_value = doc_counter.last_value + 1 "
    "RETURNING last_value"
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ALLOWED_PLACEHOLDERS = {"代字", "year", "n"}


def take_number(kind: str, code: str, year: int) -> int:
    """The next number of the counter (blocking; inside the caller's transaction)."""
    cursor = database.execute_sql(_TAKE, (kind, code, year))
    return int(cursor.fetchone()[0])


def numbering_department(dept_id: int) -> Department:
    """The department itself or its nearest ancestor that has a 机关代字 (doc_code)."""
    index = DepartmentIndex.load()
    for current in index.chain(dept_id):
        if index.rows[current].doc_code.strip():
            return index.rows[current]
    raise ValidationError({"drafting_department_id": "起草部门及其上级部门均未设置机关代字，"
                           "无法编号，请系统管理员在组织机构中设置"},
                          message="未设置机关代字，无法编号")


def check_pattern(pattern: str) -> str:
    """A 发文字号 pattern must name {代字}, {year} and {n} once each and nothing else."""
    names = _PLACEHOLDER.findall(pattern)
    unknown = set(names) - _ALLOWED_PLACEHOLDERS
    if unknown:
        raise ValidationError({"pattern": f"编号格式中有未知的占位符：{'、'.join(sorted(unknown))}"
                               "（只能使用 {代字}、{year}、{n}）"})
    for needed in ("代字", "year", "n"):
        if names.count(needed) != 1:
            raise ValidationError({"pattern": f"编号格式必须恰好包含一次 {{{needed}}}"})
    if "〔{year}〕" not in pattern:
        raise ValidationError({"pattern": "年份应以六角括号标注，即“〔{year}〕”"})
    if "第{n}" in pattern:
        raise ValidationError({"pattern": "序号前不加“第”，如 X公发〔2026〕7号"})
    if not pattern.endswith("{n}号"):
        raise ValidationError({"pattern": "编号格式应以“{n}号”结尾（序号不加“第”，不编虚位）"})
    return pattern


def outgoing_pattern(dept_id: int) -> str:
    rule = NumberRule.get_or_none(NumberRule.department == dept_id)
    return rule.pattern if rule else DEFAULT_OUTGOING_PATTERN


def render(pattern: str, code: str, year: int, n: int) -> str:
    return pattern.replace("{代字}", code).replace("{year}", str(year)).replace("{n}", str(n))


def current_year(today: dt.date | None = None) -> int:
    from app.documents.dates import local_today

    return (today or local_today()).year


def numbering_department_or_none(dept_id: int) -> str | None:
    """The name of the department whose 代字 numbers this department's documents, if any."""
    try:
        return numbering_department(dept_id).name
    except ValidationError:
        return None
