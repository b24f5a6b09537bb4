"""身份鉴别与授权: passwords, lockout, captcha, TOTP, sessions, roles and 三员分立."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.core.features import Feature, NavItem

log = logging.getLogger("oa.auth")


def _routes() -> list[tuple[str, type]]:
    from app.auth import admin_handlers as admin
    from app.auth import handlers as h

    return [
        (r"/login", h.LoginHandler),
        (r"/login/totp", h.LoginTotpHandler),
        (r"/login/captcha", h.CaptchaHandler),
        (r"/logout", h.LogoutHandler),
        (r"/account", h.AccountHandler),
        (r"/account/password", h.PasswordHandler),
        (r"/account/totp", h.TotpHandler),
        (r"/account/sessions", h.MySessionsHandler),
        (r"/account/sessions/(?P<session_id>\d{1,18})/end", h.EndMySessionHandler),
        (r"/admin/roles", admin.RoleListHandler),
        (r"/admin/roles/new", admin.RoleEditHandler),
        (r"/admin/roles/(?P<role_id>\d{1,18})", admin.RoleEditHandler),
        (r"/admin/roles/(?P<role_id>\d{1,18})/delete", admin.RoleDeleteHandler),
        (r"/admin/user-roles", admin.UserRoleListHandler),
        (r"/admin/users/(?P<user_id>\d{1,18})/roles", admin.UserRolesHandler),
        (r"/admin/users/(?P<user_id>\d{1,18})/unlock", admin.UnlockHandler),
        (r"/admin/users/(?P<user_id>\d{1,18})/reset-password", admin.ResetPasswordHandler),
        (r"/admin/sessions", admin.SessionListHandler),
        (r"/admin/sessions/(?P<session_id>\d{1,18})/end", admin.EndSessionHandler),
        (r"/api/auth/sessions", admin.MySessionsApi),
    ]


def _on_start(application: Any) -> None:
    """Install the session hooks and bring the built-in roles in step with the features."""
    from app.auth import roles, sessions
    from app.core import events
    from app.core.db import database, run_in_transaction
    from app.core.hooks import hooks

    hooks.resolve_session = sessions.resolve_session
    hooks.active_sessions = sessions.active_sessions
    events.subscribe(events.USER_CREATED, roles.grant_default_role)
    if database.obj is not None:
        run_in_transaction(roles.sync_built_in_roles, application.settings["features"])


def _demo() -> None:
    from app.auth.demo import load

    load()


def _permissions() -> list:
    from app.auth.roles import PERMISSIONS

    return list(PERMISSIONS)


feature = Feature(
    name="auth",
    title="身份与权限",
    package_dir=Path(__file__).resolve().parent,
    depends=("org", "audit"),
    routes=_routes(),
    permissions=_permissions(),
    nav=[
        NavItem("角色权限", "/admin/roles", permission="auth.role.manage", order=900),
        NavItem("用户授权", "/admin/user-roles", permission="auth.user_role.assign", order=910),
        NavItem("在线会话", "/admin/sessions", permission="auth.session.manage", order=920),
    ],
    demo=_demo,
    on_start=_on_start,
)
