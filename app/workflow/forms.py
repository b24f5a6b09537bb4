"""An instance's form data checked against its flow's field definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.core.errors import ValidationError
from app.workflow.definition import Graph

TEXT_MAX = {"text": 500, "textarea": 20_000}


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    return float(text) if "." in text else int(text)


def _ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
    if len(items) > 500:
        raise ValueError
    return list(dict.fromkeys(int(i) for i in items))


def _one(field: dict[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind in TEXT_MAX:
        if not isinstance(value, str) or len(value) > TEXT_MAX[kind] or "\x00" in value:
            raise ValueError
        return value.strip()
    if kind == "number":
        return _number(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value)).isoformat()
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in {"1", "0", "true", "false", "on", "off", "是", "否"}:
            raise ValueError
        return text in {"1", "true", "on", "是"}
    if kind == "select":
        if str(value) not in field["options"]:
            raise ValueError
        return str(value)
    if kind == "multiselect":
        values = value if isinstance(value, list) else [value]
        if any(str(v) not in field["options"] for v in values):
            raise ValueError
        return [str(v) for v in values]
    if kind in {"user", "department"}:
        return int(value)
    return _ids(value)  # users, departments


MESSAGES = {
    "text": "应为不超过500字的文本", "textarea": "应为不超过20000字的文本", "number": "应为数字",
    "date": "应为日期，格式如 2026-11-24", "boolean": "只能是“是”或“否”",
    "select": "只能从选项中选择", "multiselect": "只能从选项中选择",
    "user": "应为一个人员编号", "users": "应为人员编号列表", "department": "应为一个部门编号",
    "departments": "应为部门编号列表",
}


def opinion_fields(graph: Graph) -> set[str]:
    return {n["opinion_field"] for n in graph.nodes.values() if n.get("opinion_field")}


def clean(graph: Graph, data: Any, *, editable: set[str] | None,
          partial: bool = False) -> dict[str, Any]:
    """Cleaned values; ValidationError naming each bad field in Chinese. `editable`: the
    fields this step may change (None: all but the opinion fields, which the engine fills)."""
    if not isinstance(data, dict):
        raise ValidationError(message="表单内容应为键值对")
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    written_by_engine = opinion_fields(graph)
    for key, value in data.items():
        field = graph.fields.get(key)
        if field is None:
            errors[key] = "表单中没有此字段"
        elif key in written_by_engine:
            errors[key] = f"{field['label']}由审批意见自动填写，不能直接修改"
        elif editable is not None and key not in editable:
            errors[key] = f"本环节不能修改{field['label']}"
        elif value in (None, "", []):
            cleaned[key] = None
        else:
            try:
                cleaned[key] = _one(field, value)
            except (TypeError, ValueError):
                errors[key] = f"{field['label']}{MESSAGES[field['type']]}"
    checked = graph.fields.values() if not partial else (graph.fields[k] for k in cleaned
                                                         if k in graph.fields)
    for field in checked:
        if field["required"] and cleaned.get(field["key"]) in (None, "", []) \
                and field["key"] not in errors and field["key"] not in written_by_engine:
            errors[field["key"]] = f"请填写{field['label']}"
    if errors:
        raise ValidationError(errors)
    return cleaned
