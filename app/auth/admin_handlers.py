"""Administrators' pages: roles and role assignment and sessions (安全管理员), unlock and
password reset (系统管理员)."""

from __future__ import annotations

from typing import Any

from app.auth import flows, roles, service, sessions
from app.auth.roles import (
    ROLE_ASSIGN,
    ROLE_MANAGE,
    SESSION_MANAGE,
    USER_RESET_PASSWORD,
    USER_UNLOCK,
)
from app.core.errors import ValidationError
from app.core.features import SCOPE_ORDER
from app.core.forms import IntList, Schema, Text
from app.core.web import ApiHandler, BaseHandler, requires

ROLE_FORM = Schema(
    Text("name", "角色名称", max_length=40),
    Text("description", "说明", required=False, default="", max_length=200),
)
NEW_ROLE_FORM = Schema(
    Text("code", "角色代码", max_length=40),
    *ROLE_FORM.fields.values(),
)
ASSIGN_FORM = Schema(IntList("roles", "角色", max_items=50))


class RoleListHandler(BaseHandler):
    @requires(ROLE_MANAGE)
    async def get(self) -> None:
        rows = await self.run(roles.list_roles, self.ctx)
        self.render("auth/roles.html", page_title="角色权限", roles=rows,
                    titles=roles.role_titles())


class RoleEditHandler(BaseHandler):
    @requires(ROLE_MANAGE)
    async def get(self, role_id: str | None = None) -> None:
        role = await self.run(roles.get_role, self.ctx, int(role_id)) if role_id else None
        values = {"code": role.code if role else "", "name": role.name if role else "",
                  "description": role.description if role else ""}
        grants = {c: s.value for c, s in role.grants.items()} if role else {}
        self.show(role, values, grants)

    def show(self, role: Any, values: dict[str, Any], grants: dict[str, str],
             errors: dict[str, str] | None = None, status: int = 200) -> None:
        self.set_status(status)
        features = self.application.settings["features"]
        self.render("auth/role_edit.html", page_title="编辑角色" if role else "新建角色",
                    role=role, values=values, grants=grants, errors=errors or {},
                    groups=roles.permission_groups(features), scopes=SCOPE_ORDER)

    def submitted_grants(self) -> dict[str, str]:
        features = self.application.settings["features"]
        grants: dict[str, str] = {}
        for code in roles.declared_permissions(features):
            scope = self.get_body_argument(f"scope_{code}", "")
            if scope:
                grants[code] = scope
        return grants

    @requires(ROLE_MANAGE)
    async def post(self, role_id: str | None = None) -> None:
        features = self.application.settings["features"]
        grants = self.submitted_grants()
        raw = self.form_data()
        role = await self.run(roles.get_role, self.ctx, int(role_id)) if role_id else None
        try:
            if role is None:
                data = self.parse(NEW_ROLE_FORM)
                new_id = await self.run(roles.create_role, self.ctx, data["code"], data["name"],
                                        data["description"], grants, features)
                self.redirect(f"/admin/roles/{new_id}?saved=1")
                return
            data = self.parse(ROLE_FORM)
            await self.run(roles.update_role, self.ctx, role.id, data["name"],
                           data["description"], grants, features)
        except ValidationError as error:
            values = {k: raw.get(k, "") for k in ("code", "name", "description")}
            self.show(role, values, grants, error.fields or {"": error.message}, status=400)
            return
        self.redirect(f"/admin/roles/{role.id}?saved=1")


class RoleDeleteHandler(BaseHandler):
    @requires(ROLE_MANAGE)
    async def post(self, role_id: str) -> None:
        await self.run(roles.delete_role, self.ctx, int(role_id))
        self.redirect("/admin/roles")


class UserRoleListHandler(BaseHandler):
    @requires(ROLE_ASSIGN)
    async def get(self) -> None:
        query = self.get_argument("q", "").strip()[:40]
        rows = await self.run(roles.list_user_roles, self.ctx, query)
        self.render("auth/user_roles.html", page_title="用户授权", users=rows, query=query)


class UserRolesHandler(BaseHandler):
    @requires(ROLE_ASSIGN)
    async def get(self, user_id: str) -> None:
        await self.show(int(user_id))

    async def show(self, user_id: int, errors: dict[str, str] | None = None,
                   chosen: list[int] | None = None, status: int = 200) -> None:
        target = await self.run(roles.get_user_roles, self.ctx, user_id)
        available = await self.run(roles.all_roles)
        self.set_status(status)
        self.render("auth/user_role_edit.html", page_title="分配角色", target=target,
                    available=available, errors=errors or {},
                    chosen=target.role_ids if chosen is None else chosen,
                    saved=bool(self.get_argument("saved", "")))

    @requires(ROLE_ASSIGN)
    async def post(self, user_id: str) -> None:
        chosen: list[int] = []
        try:
            chosen = self.parse(ASSIGN_FORM)["roles"]
            await self.run(roles.assign_roles, self.ctx, int(user_id), chosen)
        except ValidationError as error:
            await self.show(int(user_id), error.fields or {"roles": error.message}, chosen, 400)
            return
        self.redirect(f"/admin/users/{int(user_id)}/roles?saved=1")


class UnlockHandler(BaseHandler):
    @requires(USER_UNLOCK)
    async def post(self, user_id: str) -> None:
        await self.run(service.unlock_account, self.ctx, int(user_id))
        self.redirect(f"/admin/org/users/{int(user_id)}?done=unlocked")


class ResetPasswordHandler(BaseHandler):
    @requires(USER_RESET_PASSWORD)
    async def post(self, user_id: str) -> None:
        password = await flows.reset_password(self.ctx, int(user_id))
        self.render("auth/reset_done.html", page_title="密码已重置", password=password,
                    user_id=int(user_id))


class SessionListHandler(BaseHandler):
    @requires(SESSION_MANAGE)
    async def get(self) -> None:
        query = self.get_argument("q", "").strip()[:40]
        rows = await self.run(sessions.all_sessions, self.ctx, query)
        self.render("auth/sessions.html", page_title="在线会话", sessions=rows, admin=True,
                    query=query)


class EndSessionHandler(BaseHandler):
    @requires(SESSION_MANAGE)
    async def post(self, session_id: str) -> None:
        await self.run(sessions.end_session, self.ctx, int(session_id))
        self.redirect("/admin/sessions")


_SESSION_SCHEMA = {
    "type": "object",
    "properties": {"sessions": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
        "last_seen_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "ip": {"type": "string"}, "user_agent": {"type": "string"},
        "current": {"type": "boolean"}}}}},
}


class MySessionsApi(ApiHandler):
    openapi: dict[str, dict[str, Any]] = {
        "get": {"summary": "当前用户的有效登录会话", "tags": ["身份与权限"],
                "response": _SESSION_SCHEMA},
    }

    async def get(self) -> None:
        rows = await self.run(sessions.my_sessions, self.ctx)
        self.write_json({"sessions": [
            {"id": s.id, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
             "expires_at": s.expires_at, "ip": s.ip, "user_agent": s.user_agent,
             "current": s.current} for s in rows]})
