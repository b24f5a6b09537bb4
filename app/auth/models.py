"""Peewee models of identity and authorisation; the schema itself is in migrations/."""

from __future__ import annotations

import peewee as pw

from app.core.db import BaseModel
from app.org.models import User

ADMIN_KINDS = ("sysadmin", "secadmin", "auditor")
ADMIN_TITLES = {"sysadmin": "系统管理员", "secadmin": "安全管理员", "auditor": "安全审计员"}
SESSION_END_TITLES = {
    "logout": "已退出",
    "idle": "空闲超时",
    "expired": "已到期",
    "revoked": "被结束",
    "limit": "超出并发会话数",
    "password": "密码已变更",
    "disabled": "账号停用",
}


class Credential(BaseModel):
    user = pw.ForeignKeyField(User, primary_key=True, column_name="user_id")
    password_hash = pw.TextField()
    changed_at = pw.DateTimeField()
    must_change = pw.BooleanField(default=True)
    failed_count = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)
    last_login_at = pw.DateTimeField(null=True)
    last_login_ip = pw.TextField(default="")

    class Meta:
        table_name = "credential"


class PasswordHistory(BaseModel):
    user = pw.ForeignKeyField(User, column_name="user_id")
    password_hash = pw.TextField()
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "password_history"


class UserSession(BaseModel):
    token_hash = pw.TextField(unique=True)
    user = pw.ForeignKeyField(User, column_name="user_id")
    stage = pw.TextField(default="active")
    created_at = pw.DateTimeField()
    last_seen_at = pw.DateTimeField()
    expires_at = pw.DateTimeField()
    ip = pw.TextField(default="")
    user_agent = pw.TextField(default="")
    ended_at = pw.DateTimeField(null=True)
    ended_reason = pw.TextField(null=True)

    class Meta:
        table_name = "user_session"


class LoginThrottle(BaseModel):
    kind = pw.TextField()
    key = pw.TextField()
    failures = pw.IntegerField(default=0)
    last_failure_at = pw.DateTimeField()

    class Meta:
        table_name = "login_throttle"
        primary_key = pw.CompositeKey("kind", "key")


class CaptchaChallenge(BaseModel):
    token_hash = pw.TextField(unique=True)
    answer_hash = pw.TextField()
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "captcha_challenge"


class Totp(BaseModel):
    user = pw.ForeignKeyField(User, primary_key=True, column_name="user_id")
    secret = pw.TextField()
    enrolled_at = pw.DateTimeField(null=True)
    last_used_step = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "totp"


class RecoveryCode(BaseModel):
    user = pw.ForeignKeyField(User, column_name="user_id")
    code_hash = pw.TextField()
    created_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "recovery_code"


class Role(BaseModel):
    code = pw.TextField(unique=True)
    name = pw.TextField()
    description = pw.TextField(default="")
    built_in = pw.BooleanField(default=False)
    admin_kind = pw.TextField(null=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "role"


class RolePermission(BaseModel):
    role = pw.ForeignKeyField(Role, column_name="role_id", backref="grants", on_delete="CASCADE")
    permission = pw.TextField()
    scope = pw.TextField()

    class Meta:
        table_name = "role_permission"
        primary_key = pw.CompositeKey("role", "permission")


class PermissionCatalog(BaseModel):
    code = pw.TextField(primary_key=True)
    first_seen_at = pw.DateTimeField()

    class Meta:
        table_name = "permission_catalog"


class UserRole(BaseModel):
    user = pw.ForeignKeyField(User, column_name="user_id")
    role = pw.ForeignKeyField(Role, column_name="role_id")
    admin_kind = pw.TextField(null=True)  # copied from the role by a trigger
    granted_at = pw.DateTimeField()
    granted_by = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "user_role"
        primary_key = pw.CompositeKey("user", "role")
