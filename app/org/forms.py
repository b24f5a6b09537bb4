"""Input schemas of the organisation: one definition validates forms, JSON and imported rows,
and describes the API in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import ValidationError
from app.core.forms import (
    Boolean,
    Choice,
    Email,
    FieldError,
    Integer,
    IntList,
    Phone,
    Schema,
    Text,
)
from app.org.models import STATUS_TITLES

USERNAME_PATTERN = r"[a-z0-9._-]{2,32}"
EMPLOYEE_NO_PATTERN = r"[0-9A-Za-z-]{1,20}"
OFFICE_PHONE_PATTERN = r"[0-9][0-9-]{2,19}"

USER_SCHEMA = Schema(
    Text("username", "用户名", max_length=32, pattern=USERNAME_PATTERN,
         pattern_message="用户名只能包含小写字母、数字、点、下划线和连字符，长度2到32位",
         help="登录名，不区分大小写"),
    Text("employee_no", "工号", max_length=20, pattern=EMPLOYEE_NO_PATTERN,
         pattern_message="工号只能包含字母、数字和连字符"),
    Text("name", "姓名", max_length=40),
    Integer("department_id", "所属部门", minimum=1),
    IntList("secondary_department_ids", "兼职部门", max_items=20),
    Integer("position_id", "职务", minimum=1, required=False),
    Phone("phone", "手机", required=False, default=""),
    Text("office_phone", "办公电话", max_length=20, required=False, default="",
         pattern=OFFICE_PHONE_PATTERN,
         pattern_message="办公电话只能包含数字和连字符，如 8123 或 0571-87001234"),
    Email("email", "电子邮箱", required=False, default=""),
    Integer("clearance", "密级", minimum=0, maximum=3, required=False, default=0,
            help="0 非密，1 秘密，2 机密，3 绝密"),
    Choice("status", "状态", choices=STATUS_TITLES, required=False, default="active"),
    Integer("sort_order", "排序号", minimum=0, maximum=100000, required=False, default=0),
)

DEPARTMENT_SCHEMA = Schema(
    Text("name", "部门名称", max_length=60),
    Text("short_name", "简称", max_length=30, required=False, default=""),
    Text("doc_code", "机关代字", max_length=20, required=False, default="",
         help="公文编号用，如 X公办（X公办发〔2026〕7号）"),
    Integer("parent_id", "上级部门", minimum=1, required=False),
    Integer("sort_order", "排序号", minimum=0, maximum=100000, required=False, default=0),
    Integer("leader_id", "部门负责人", minimum=1, required=False),
    IntList("deputy_ids", "副职领导", max_items=20),
)

MOVE_SCHEMA = Schema(Integer("parent_id", "新的上级部门", minimum=1))

POSITION_SCHEMA = Schema(
    Text("name", "职务名称", max_length=40),
    Integer("rank", "排序级别", minimum=0, maximum=10000, required=False, default=100,
            help="数字越小越靠前"),
    Boolean("is_leader", "领导职务"),
)

USER_QUERY = Schema(
    Text("q", "关键词", max_length=50, required=False, default=""),
    Integer("department", "部门", minimum=1, required=False),
    Integer("position", "职务", minimum=1, required=False),
    Choice("status", "状态", choices=STATUS_TITLES, required=False, default=""),
    Integer("page", "页码", minimum=1, maximum=100000, required=False, default=1),
    Integer("per_page", "每页条数", minimum=1, maximum=100, required=False, default=20),
)

ADDRESSBOOK_QUERY = Schema(
    Text("q", "关键词（姓名、拼音首字母、全拼或部门）", max_length=50, required=False, default=""),
    Integer("department", "部门", minimum=1, required=False),
    Integer("page", "页码", minimum=1, maximum=100000, required=False, default=1),
    Integer("per_page", "每页条数", minimum=1, maximum=100, required=False, default=30),
)


def clean_each(schema: Schema, raw: Any, partial: bool = False) -> tuple[dict[str, Any],
                                                                        dict[str, str]]:
    """Like `Schema.validate`, but return the good fields and the errors side by side, so the
    caller can add its own checks (uniqueness, existence) and report every problem at once."""
    if not isinstance(raw, Mapping):
        raise ValidationError(message="请求内容应为 JSON 对象")
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in schema.fields.items():
        if partial and name not in raw:
            continue
        try:
            cleaned[name] = spec.parse(raw.get(name))
        except FieldError as exc:
            errors[name] = exc.message
    return cleaned, errors
