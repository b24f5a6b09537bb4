"""The core's own endpoints: health, metrics, the OpenAPI document, the CSRF token."""

from __future__ import annotations

from typing import Any

from app.core import metrics
from app.core.config import settings
from app.core.errors import PermissionDenied
from app.core.hooks import hooks
from app.core.web import ApiHandler, BaseHandler


def _database_answers() -> bool:
    from app.core.db import database

    database.execute_sql("SELECT 1")
    return True


class HealthHandler(BaseHandler):
    public = True
    allow_pending = True

    async def get(self) -> None:
        try:
            await self.run(_database_answers)
        except Exception as exc:  # the point of a health check is to report, not to raise
            self.write_json({"status": "error", "database": str(exc)[:200]}, status=503)
            return
        self.write_json({"status": "ok", "database": "ok"})


class MetricsHandler(BaseHandler):
    public = True
    allow_pending = True
    shows_menu = False

    async def get(self) -> None:
        if self.request.remote_ip not in settings().metrics_allow:
            raise PermissionDenied(message="监控指标仅对监控主机开放")
        count = await self.run(hooks.active_sessions)
        body, content_type = metrics.render(count)
        self.set_header("Content-Type", content_type)
        self.finish(body)


class OpenApiHandler(ApiHandler):
    public = True
    allow_pending = True
    openapi: dict[str, dict[str, Any]] = {
        "get": {"summary": "本接口文档（OpenAPI 3）", "tags": ["系统"], "public": True},
    }

    def get(self) -> None:
        self.write_json(self.application.settings["openapi"])


class CsrfHandler(ApiHandler):
    public = True
    allow_pending = True
    openapi: dict[str, dict[str, Any]] = {
        "get": {
            "summary": "取得防跨站请求令牌（同时写入 _xsrf Cookie）；"
                       "写操作须在 X-XSRFToken 头中携带",
            "tags": ["系统"],
            "public": True,
            "response": {"type": "object", "properties": {"token": {"type": "string"}}},
        },
    }

    def get(self) -> None:
        self.write_json({"token": self.xsrf_token.decode()})
