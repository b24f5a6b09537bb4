"""Declarative input schemas: one definition validates a form or JSON body (with Chinese
messages per field) and describes it in the OpenAPI document.

    USER_FORM = Schema(
        Text("name", "姓名", max_length=50),
        Choice("status", "状态", {"active": "在职", "disabled": "停用"}, required=False),
    )
    data = USER_FORM.validate(raw)   # raises ValidationError({"name": "请填写姓名"})
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from app.core.errors import ValidationError

_EMPTY = (None, "", [])
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$")


class FieldError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Field:
    name: str
    label: str
    _: KW_ONLY
    required: bool = True
    default: Any = None
    help: str = ""

    def clean(self, value: Any) -> Any:
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def parse(self, raw: Any) -> Any:
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in _EMPTY:
            if self.required:
                raise FieldError(f"请填写{self.label}")
            return self.default
        return self.clean(raw)


@dataclass(kw_only=True)
class Text(Field):
    max_length: int = 200
    min_length: int = 0
    pattern: str | None = None
    pattern_message: str = ""
    multiline: bool = False

    def clean(self, value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError(f"{self.label}必须是文本")
        if not self.multiline and ("\n" in value or "\r" in value):
            raise FieldError(f"{self.label}不能包含换行")
        if "\x00" in value:
            raise FieldError(f"{self.label}包含非法字符")
        if len(value) > self.max_length:
            raise FieldError(f"{self.label}不能超过{self.max_length}个字符")
        if len(value) < self.min_length:
            raise FieldError(f"{self.label}至少需要{self.min_length}个字符")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise FieldError(self.pattern_message or f"{self.label}格式不正确")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern:
            schema["pattern"] = self.pattern
        return schema


@dataclass(kw_only=True)
class Password(Text):
    max_length: int = 128

    def clean(self, value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError(f"{self.label}必须是文本")
        if len(value) > self.max_length:
            raise FieldError(f"{self.label}不能超过{self.max_length}个字符")
        return value

    def parse(self, raw: Any) -> Any:  # passwords are never stripped
        if raw in _EMPTY:
            if self.required:
                raise FieldError(f"请填写{self.label}")
            return self.default
        return self.clean(raw)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "password", "maxLength": self.max_length}


@dataclass(kw_only=True)
class Email(Text):
    max_length: int = 120

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not _EMAIL.match(text):
            raise FieldError(f"{self.label}不是有效的电子邮箱地址")
        return text

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": self.max_length}


@dataclass(kw_only=True)
class Phone(Text):
    max_length: int = 20

    def clean(self, value: Any) -> str:
        text = super().clean(value).replace(" ", "")
        if not _PHONE.match(text):
            raise FieldError(f"{self.label}格式不正确（手机号11位，或区号-号码）")
        return text


@dataclass(kw_only=True)
class Integer(Field):
    minimum: int | None = None
    maximum: int | None = None

    def clean(self, value: Any) -> int:
        if isinstance(value, bool):
            raise FieldError(f"{self.label}必须是整数")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise FieldError(f"{self.label}必须是整数") from None
        if isinstance(value, float) and value != number:
            raise FieldError(f"{self.label}必须是整数")
        if self.minimum is not None and number < self.minimum:
            raise FieldError(f"{self.label}不能小于{self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise FieldError(f"{self.label}不能大于{self.maximum}")
        return number

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(kw_only=True)
class Boolean(Field):
    required: bool = False
    default: Any = False

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if raw in _EMPTY:
            return bool(self.default)
        if isinstance(raw, str) and raw.lower() in {"1", "true", "on", "yes", "是"}:
            return True
        if isinstance(raw, str) and raw.lower() in {"0", "false", "off", "no", "否"}:
            return False
        raise FieldError(f"{self.label}只能是“是”或“否”")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(kw_only=True)
class Date(Field):
    def clean(self, value: Any) -> dt.date:
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise FieldError(f"{self.label}应为日期，格式如 2026-11-24") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


@dataclass(kw_only=True)
class DateTime(Field):
    def clean(self, value: Any) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(str(value).replace(" ", "T"))
        except ValueError:
            raise FieldError(f"{self.label}应为日期时间，格式如 2026-11-24 09:30") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


@dataclass
class Choice(Field):
    choices: Mapping[str, str] = field(default_factory=dict)  # value -> Chinese title

    def clean(self, value: Any) -> str:
        if str(value) not in self.choices:
            allowed = "、".join(self.choices.values())
            raise FieldError(f"{self.label}只能是：{allowed}")
        return str(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(kw_only=True)
class IntList(Field):
    max_items: int = 500
    required: bool = False
    default: Any = field(default_factory=list)

    def parse(self, raw: Any) -> list[int]:
        if raw in _EMPTY:
            if self.required:
                raise FieldError(f"请选择{self.label}")
            return list(self.default)
        items = raw if isinstance(raw, list) else str(raw).split(",")
        if len(items) > self.max_items:
            raise FieldError(f"{self.label}最多{self.max_items}项")
        try:
            values = [int(item) for item in items if str(item).strip() != ""]
        except (TypeError, ValueError):
            raise FieldError(f"{self.label}包含无效的编号") from None
        if self.required and not values:
            raise FieldError(f"请选择{self.label}")
        return list(dict.fromkeys(values))

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "integer"}, "maxItems": self.max_items}


class Schema:
    def __init__(self, *fields: Field) -> None:
        self.fields = {f.name: f for f in fields}

    def validate(self, data: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
        """Clean every field; raise one ValidationError naming every bad field."""
        if not isinstance(data, Mapping):
            raise ValidationError(message="请求内容应为 JSON 对象")
        cleaned: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, spec in self.fields.items():
            if partial and name not in data:
                continue
            try:
                cleaned[name] = spec.parse(data.get(name))
            except FieldError as exc:
                errors[name] = exc.message
        if errors:
            raise ValidationError(errors)
        return cleaned

    def json_schema(self) -> dict[str, Any]:
        properties = {}
        for name, spec in self.fields.items():
            properties[name] = {**spec.json_schema(), "title": spec.label}
            if spec.help:
                properties[name]["description"] = spec.help
        required = [n for n, s in self.fields.items() if s.required]
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema
