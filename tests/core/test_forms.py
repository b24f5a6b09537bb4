"""Input schemas: every bad field named with a Chinese message, nothing else accepted."""

import datetime as dt

import pytest

from app.core.errors import ValidationError
from app.core.forms import Boolean, Choice, Date, Email, Integer, IntList, Phone, Schema, Text

SCHEMA = Schema(
    Text("name", "姓名", max_length=4),
    Integer("age", "年龄", minimum=18, maximum=70, required=False),
    Email("email", "邮箱", required=False),
    Phone("phone", "手机", required=False),
    Choice("level", "密级", {"0": "非密", "1": "秘密"}, required=False),
    Date("born", "出生日期", required=False),
    Boolean("active", "启用"),
    IntList("departments", "部门"),
)


def test_valid_input_is_cleaned() -> None:
    data = SCHEMA.validate({"name": " 张三 ", "age": "30", "born": "1990-01-02",
                            "active": "on", "departments": "3,4,3", "phone": "13800138000"})
    assert data["name"] == "张三"
    assert data["age"] == 30
    assert data["born"] == dt.date(1990, 1, 2)
    assert data["active"] is True
    assert data["departments"] == [3, 4]


def test_every_bad_field_is_reported_in_chinese() -> None:
    with pytest.raises(ValidationError) as caught:
        SCHEMA.validate({"name": "", "age": "abc", "email": "x@", "phone": "123",
                         "level": "9", "born": "2026/11/24", "active": "maybe",
                         "departments": "a,b"})
    assert caught.value.fields == {
        "name": "请填写姓名",
        "age": "年龄必须是整数",
        "email": "邮箱不是有效的电子邮箱地址",
        "phone": "手机格式不正确（手机号11位，或区号-号码）",
        "level": "密级只能是：非密、秘密",
        "born": "出生日期应为日期，格式如 2026-11-24",
        "active": "启用只能是“是”或“否”",
        "departments": "部门包含无效的编号",
    }


def test_limits_and_wrong_types() -> None:
    with pytest.raises(ValidationError) as caught:
        SCHEMA.validate({"name": "张三丰太长", "age": 17})
    assert caught.value.fields == {"name": "姓名不能超过4个字符", "age": "年龄不能小于18"}
    with pytest.raises(ValidationError) as caught:
        SCHEMA.validate({"name": ["a"], "age": True})
    assert set(caught.value.fields) == {"name", "age"}
    with pytest.raises(ValidationError):
        SCHEMA.validate(["not", "an", "object"])  # type: ignore[arg-type]
