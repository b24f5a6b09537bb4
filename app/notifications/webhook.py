"""The body of Alertmanager's webhook post (version 4), validated with Chinese messages."""

from __future__ import annotations

from typing import Any

from app.core.errors import ValidationError
from app.core.forms import Choice, DateTime, Field, FieldError, Schema, Text

MAX_ALERTS = 1000
MAX_LABELS = 100
LABEL_VALUE_MAX = 2000


class StringMap(Field):
    """A JSON object of text values (an alert's labels or annotations)."""

    def parse(self, raw: Any) -> Any:
        if raw in (None, {}):
            if self.required:
                raise FieldError(f"请提供{self.label}")
            return {}
        if not isinstance(raw, dict) or len(raw) > MAX_LABELS:
            raise FieldError(f"{self.label}应为不超过{MAX_LABELS}项的对象")
        if not all(isinstance(k, str) and isinstance(v, str) and len(v) <= LABEL_VALUE_MAX
                   for k, v in raw.items()):
            raise FieldError(f"{self.label}的值必须是不超过{LABEL_VALUE_MAX}个字符的文本")
        return dict(raw)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": "string"}}


ALERT = Schema(
    Choice("status", "告警状态", choices={"firing": "告警中", "resolved": "已恢复"}),
    StringMap("labels", "告警标签"),
    StringMap("annotations", "告警注释", required=False),
    Text("fingerprint", "告警指纹", max_length=64, pattern=r"[0-9a-f]{1,64}",
         pattern_message="告警指纹应为十六进制字符串"),
    DateTime("startsAt", "开始时间", required=False),
)


class AlertList(Field):
    """Alertmanager's `alerts` array, each item validated by ALERT."""

    def parse(self, raw: Any) -> Any:
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ALERTS:
            raise FieldError(f"{self.label}应为 1 到 {MAX_ALERTS} 条告警组成的数组")
        alerts = []
        for number, item in enumerate(raw, start=1):
            try:
                alert = ALERT.validate(item)
            except ValidationError as error:
                detail = "；".join(error.fields.values()) or error.message
                raise FieldError(f"第{number}条告警有误：{detail}") from None
            if not alert["labels"].get("alertname"):
                raise FieldError(f"第{number}条告警缺少 alertname 标签")
            alerts.append(alert)
        return alerts

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": ALERT.json_schema(), "maxItems": MAX_ALERTS}


WEBHOOK_BODY = Schema(
    Choice("version", "版本", choices={"4": "Alertmanager webhook 第 4 版"}),
    Choice("status", "告警组状态", choices={"firing": "告警中", "resolved": "已恢复"}),
    Text("receiver", "接收者", max_length=200, required=False),
    Text("groupKey", "告警组标识", max_length=500, required=False),
    AlertList("alerts", "告警列表"),
)
