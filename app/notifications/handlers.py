"""系统通知 pages and API, and the Alertmanager webhook."""

from __future__ import annotations

import hmac
from typing import Any

from app.core.config import settings
from app.core.context import RequestContext
from app.core.errors import PermissionDenied, ValidationError
from app.core.forms import Choice, DateTime, Field, FieldError, Schema, Text
from app.core.logs import request_id_var
from app.core.web import ApiHandler, BaseHandler
from app.notifications import service

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


class AlertmanagerWebhookHandler(ApiHandler):
    """/api/alerts/alertmanager: Alertmanager's webhook receiver.

    A machine endpoint: no user session and hence no CSRF token. It is authenticated only by
    `Authorization: Bearer <alert_webhook_token>`, so a browser's cookies give it nothing to
    ride on; that is why this one handler (and no other) skips the XSRF comparison."""

    public = True
    allow_pending = True
    openapi: dict[str, dict[str, Any]] = {
        "post": {
            "summary": ("接收 Alertmanager 告警（Bearer 令牌认证），"
                        "转为系统管理员、安全管理员的通知"),
            "tags": ["系统通知"],
            "body": WEBHOOK_BODY,
            "response": {"type": "object", "properties": {
                "firing": {"type": "integer"}, "resolved": {"type": "integer"},
                "recipients": {"type": "integer"}, "closed": {"type": "integer"}}},
        },
    }

    def check_xsrf_cookie(self) -> None:
        """Bearer-authenticated, cookie-less: see the class doc."""

    async def prepare(self) -> None:
        request_id_var.set(self.request_id)
        self.principal = None  # a session cookie, if any, is ignored here
        self.authenticate_bearer()

    def authenticate_bearer(self) -> None:
        expected = settings().alert_webhook_token
        if not expected:
            raise PermissionDenied(message="告警接口未启用：未配置 alert_webhook_token")
        scheme, _, given = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), expected.encode()):
            raise PermissionDenied(message="告警接口令牌无效")

    async def post(self) -> None:
        payload = WEBHOOK_BODY.validate(self.json_body())
        ctx = RequestContext(principal=None, ip=self.ip, request_id=self.request_id,
                             user_agent=self.request.headers.get("User-Agent", "")[:300])
        self.write_json(await self.run(service.receive_alerts, ctx, payload))


class NotificationListHandler(BaseHandler):
    """/notifications: my notifications, newest first."""

    async def get(self) -> None:
        unread_only = self.get_argument("unread", "") == "1"
        page = self.int_argument("page", 1)
        data = await self.run(service.list_notifications, self.ctx, unread_only=unread_only,
                              page=page)
        self.render("notifications/list.html", data=data, unread_only=unread_only,
                    done=self.get_argument("done", ""), page_title="系统通知")


class NotificationReadHandler(BaseHandler):
    """/notifications/<id>/read: mark one of my notifications read."""

    async def post(self, notification_id: str) -> None:
        await self.run(service.mark_read, self.ctx, int(notification_id))
        self.redirect("/notifications?done=read")


class NotificationReadAllHandler(BaseHandler):
    """/notifications/read-all: mark all of my notifications read."""

    async def post(self) -> None:
        await self.run(service.mark_all_read, self.ctx)
        self.redirect("/notifications?done=read")


class NotificationsApiHandler(ApiHandler):
    """/api/notifications: my notifications as JSON."""

    openapi: dict[str, dict[str, Any]] = {
        "get": {"summary": "当前用户的通知（最新在前，每页 50 条）", "tags": ["系统通知"],
                "response": {"type": "object"}},
    }

    async def get(self) -> None:
        data = await self.run(service.list_notifications, self.ctx,
                              unread_only=self.get_argument("unread", "") == "1",
                              page=self.int_argument("page", 1))
        self.write_json(data)


class UnreadCountApiHandler(ApiHandler):
    """/api/notifications/unread-count: the nav badge."""

    openapi: dict[str, dict[str, Any]] = {
        "get": {"summary": "当前用户未读通知数", "tags": ["系统通知"],
                "response": {"type": "object", "properties": {"count": {"type": "integer"}}}},
    }

    async def get(self) -> None:
        self.write_json({"count": await self.run(service.unread_count, self.ctx)})
