"""系统通知 pages and API, and the Alertmanager webhook."""

from __future__ import annotations

import hmac
from typing import Any

from app.core.config import settings
from app.core.context import RequestContext
from app.core.errors import PermissionDenied
from app.core.logs import request_id_var
from app.core.web import ApiHandler, BaseHandler
from app.notifications import service, spool
from app.notifications.webhook import WEBHOOK_BODY


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
            # 202 with `spooled`: the database could not take the post now; it is kept on
            # disk and applied once the database answers (spool.py)
            "response": {"type": "object", "properties": {
                "firing": {"type": "integer"}, "resolved": {"type": "integer"},
                "recipients": {"type": "integer"}, "closed": {"type": "integer"},
                "spooled": {"type": "boolean"}}},
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
        body = self.json_body()
        payload = WEBHOOK_BODY.validate(body)
        ctx = RequestContext(principal=None, ip=self.ip, request_id=self.request_id,
                             user_agent=self.request.headers.get("User-Agent", "")[:300])
        status, answer = await spool.receive(ctx, body, payload)
        self.write_json(answer, status=status)


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
