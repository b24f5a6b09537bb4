"""Identity: login (password, lockout, captcha, second factor), passwords, unlock and reset.

Blocking functions, each run inside one unit of work. Argon2 hashing and verifying never happen
here: `app.auth.flows` does them between units of work with `run_blocking`, so a login is
(1) read the hash and check the captcha, (2) verify off the IOLoop, (3) record the outcome.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import peewee as pw
from prometheus_client import Counter

from app.auth import captcha, mfa
from app.auth.events import audit
from app.auth.models import Credential, LoginThrottle, PasswordHistory, Role, UserRole, UserSession
from app.auth.roles import USER_RESET_PASSWORD, USER_UNLOCK, write_user_roles
from app.auth.sessions import create_session, end_user_sessions, now, promote_session, token_hash
from app.core.config import settings
from app.core.context import RequestContext
from app.core.db import database
from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.org.models import Department, User

GENERIC_FAILURE = "用户名或密码错误"
CAPTCHA_FAILURE = "验证码错误或已失效，请重新输入"
MFA_FAILURE = "动态口令不正确或已使用过"
MFA_EXPIRED = "登录已超时，请重新输入用户名和密码"
CAPTCHA_MEMORY = dt.timedelta(hours=24)  # a failure this old no longer asks for a captcha
# For the failed-login burst alert. Counted when the failure is recorded, before the commit: a
# rolled-back request may still count, which only errs towards alerting.
LOGIN_FAILURES = Counter("oa_login_failures", "Failed sign-in attempts, by reason", ["reason"])


def locked_message() -> str:
    return (f"登录失败次数过多，账号已被锁定，请 {settings().lockout_minutes} 分钟后再试，"
            "或联系系统管理员解锁")


def normalise_username(raw: str) -> str:
    return raw.strip().lower()[:64]


def find_user(username: str) -> User | None:
    return User.get_or_none(pw.fn.lower(User.username) == normalise_username(username))


# ---- throttling and lockout -------------------------------------------------------------------
_BUMP = """
INSERT INTO login_throttle (kind, key, failures, last_failure_at) VALUES (%s, %s, 1, now())
ON CONFLICT (kind, key) DO UPDATE SET
    failures = CASE WHEN login_throttle.failures >= %s
                     AND login_throttle.last_failure_at < now() - %s * interval '1 minute'
                    THEN 1 ELSE login_throttle.failures + 1 END,
    last_failure_at = now()
RETURNING failures
"""


def _bump_throttle(kind: str, key: str) -> int:
    cfg = settings()
    cursor = database.execute_sql(_BUMP, (kind, key, cfg.lockout_threshold, cfg.lockout_minutes))
    return int(cursor.fetchone()[0])


def _recent_failures(kind: str, key: str) -> LoginThrottle | None:
    return LoginThrottle.get_or_none(LoginThrottle.kind == kind, LoginThrottle.key == key,
                                     LoginThrottle.last_failure_at > now() - CAPTCHA_MEMORY)


def captcha_needed(username: str, ip: str) -> bool:
    """From the first failure on, for the account name OR the client address."""
    return (_recent_failures("ip", ip) is not None
            or (bool(username) and _recent_failures("user", normalise_username(username))
                is not None))


def captcha_needed_for_client(ip: str) -> bool:
    return _recent_failures("ip", ip) is not None


def _name_locked(username: str) -> bool:
    """The lock as seen from outside, identical for existing and unknown account names."""
    row = LoginThrottle.get_or_none(LoginThrottle.kind == "user", LoginThrottle.key == username)
    return (row is not None and row.failures >= settings().lockout_threshold
            and row.last_failure_at > now() - dt.timedelta(minutes=settings().lockout_minutes))


def _login_failure(ctx: RequestContext, username: str, user: User | None, reason: str) -> None:
    """Audit one failed sign-in and count it for monitoring."""
    LOGIN_FAILURES.labels(reason=reason).inc()
    audit(ctx, "auth.login.failure", object_type="user", object_id=user.id if user else None,
          outcome="failure", details={"username": username, "reason": reason})


def _is_locked(credential: Credential | None) -> bool:
    return bool(credential and credential.locked_until and credential.locked_until > now())


def _count_failure(ctx: RequestContext, username: str, user: User | None, reason: str) -> bool:
    """Record a failed attempt everywhere; True when it locked the account (name)."""
    cfg = settings()
    name_failures = _bump_throttle("user", username)
    _bump_throttle("ip", ctx.ip)
    locked = False
    credential = (Credential.select().where(Credential.user == user.id).for_update().first()
                  if user is not None else None)
    if credential is not None:
        expired_lock = credential.locked_until is not None and credential.locked_until <= now()
        count = 1 if expired_lock else credential.failed_count + 1
        locked_until = None if expired_lock else credential.locked_until
        if count >= cfg.lockout_threshold and locked_until is None:
            locked_until = now() + dt.timedelta(minutes=cfg.lockout_minutes)
            locked = True
        Credential.update(failed_count=count, locked_until=locked_until
                          ).where(Credential.user == user.id).execute()
    elif name_failures == cfg.lockout_threshold:
        locked = True
    _login_failure(ctx, username, user, reason)
    if locked:
        audit(ctx, "auth.account.lock", object_type="user", object_id=user.id if user else None,
              outcome="failure", details={"username": username, "failures": cfg.lockout_threshold,
                                          "minutes": cfg.lockout_minutes})
    return locked


def _clear_failures(username: str, ip: str | None) -> None:
    LoginThrottle.delete().where(LoginThrottle.kind == "user",
                                 LoginThrottle.key == username).execute()
    if ip is not None:
        LoginThrottle.delete().where(LoginThrottle.kind == "ip", LoginThrottle.key == ip).execute()


# ---- login ------------------------------------------------------------------------------------
@dataclass
class LoginAttempt:
    """Step 1's answer: what to verify the password against, or why not to try at all."""

    username: str
    user_id: int | None = None
    password_hash: str | None = None
    error: str | None = None
    error_field: str = "password"


@dataclass
class LoginResult:
    ok: bool = False
    message: str = ""
    error_field: str = "password"
    captcha_required: bool = False
    token: str | None = None  # the new session id for the cookie
    needs_totp: bool = False
    restart: bool = False
    fields: dict[str, str] = field(default_factory=dict)


def prepare_login(ctx: RequestContext, username: str, captcha_token: str | None,
                  captcha_answer: str | None) -> LoginAttempt:
    username = normalise_username(username)
    if captcha_needed(username, ctx.ip) and not captcha.consume(captcha_token, captcha_answer):
        _login_failure(ctx, username, None, "captcha")
        return LoginAttempt(username, error=CAPTCHA_FAILURE, error_field="captcha")
    user = find_user(username)
    credential = Credential.get_or_none(Credential.user == user.id) if user else None
    if _is_locked(credential) or (user is None and _name_locked(username)):
        _login_failure(ctx, username, user, "locked")
        return LoginAttempt(username, error=locked_message())
    return LoginAttempt(username, user.id if user else None,
                        credential.password_hash if credential else None)


def finish_login(ctx: RequestContext, attempt: LoginAttempt, password_ok: bool) -> LoginResult:
    user = User.get_or_none(User.id == attempt.user_id) if attempt.user_id else None
    credential = Credential.get_or_none(Credential.user == user.id) if user else None
    if not password_ok or user is None or credential is None:
        reason = "password" if user else "unknown_user"
        locked = _count_failure(ctx, attempt.username, user, reason)
        return LoginResult(message=locked_message() if locked else GENERIC_FAILURE,
                           captcha_required=True)
    if _is_locked(credential):  # locked by a concurrent attempt meanwhile
        return LoginResult(message=locked_message(), captcha_required=True)
    if user.status != "active":
        _count_failure(ctx, attempt.username, user, "disabled")
        return LoginResult(message=GENERIC_FAILURE, captcha_required=True)
    Credential.update(failed_count=0, locked_until=None).where(Credential.user == user.id).execute()
    _clear_failures(attempt.username, ctx.ip)
    if mfa.has_totp(user.id):
        token = create_session(ctx, user.id, stage="mfa")
        return LoginResult(ok=True, token=token, needs_totp=True)
    _signed_in(ctx, user, "password")
    return LoginResult(ok=True, token=create_session(ctx, user.id))


def _signed_in(ctx: RequestContext, user: User, factors: str) -> None:
    Credential.update(last_login_at=now(), last_login_ip=ctx.ip[:64]
                      ).where(Credential.user == user.id).execute()
    audit(ctx, "auth.login.success", object_type="user", object_id=user.id,
          details={"username": user.username, "factors": factors})


def _pending_mfa(token: str | None) -> UserSession | None:
    if not token:
        return None
    return (UserSession.select().where(UserSession.token_hash == token_hash(token),
                                       UserSession.stage == "mfa",
                                       UserSession.ended_at.is_null(),
                                       UserSession.expires_at > now()).first())


def mfa_pending(token: str | None) -> bool:
    return _pending_mfa(token) is not None


def finish_totp_login(ctx: RequestContext, token: str | None, code: str) -> LoginResult:
    session = _pending_mfa(token)
    if session is None:
        return LoginResult(message=MFA_EXPIRED, restart=True)
    user = User.get_by_id(session.user_id)
    credential = Credential.get_or_none(Credential.user == user.id)
    if user.status != "active" or _is_locked(credential):
        UserSession.update(ended_at=now(), ended_reason="revoked"
                           ).where(UserSession.id == session.id).execute()
        return LoginResult(message=locked_message() if _is_locked(credential) else MFA_EXPIRED,
                           restart=True)
    factor = mfa.verify_second_factor(user.id, code)
    if factor is None:
        locked = _count_failure(ctx, user.username, user, "totp")
        if locked:
            UserSession.update(ended_at=now(), ended_reason="revoked"
                               ).where(UserSession.id == session.id).execute()
            return LoginResult(message=locked_message(), restart=True)
        return LoginResult(message=MFA_FAILURE, error_field="code")
    Credential.update(failed_count=0).where(Credential.user == user.id).execute()
    _signed_in(ctx, user, f"password+{factor}")
    return LoginResult(ok=True, token=promote_session(ctx, session))


# ---- passwords --------------------------------------------------------------------------------
@dataclass
class PasswordMaterial:
    user_id: int
    username: str
    current_hash: str | None
    recent_hashes: list[str]  # the current one first, then earlier ones


def password_material(user_id: int) -> PasswordMaterial:
    user = User.get_by_id(user_id)
    credential = Credential.get_or_none(Credential.user == user_id)
    keep = max(0, settings().password_history - 1)
    history = [h.password_hash for h in PasswordHistory.select()
               .where(PasswordHistory.user == user_id)
               .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
               .limit(keep)] if keep else []
    current = credential.password_hash if credential else None
    return PasswordMaterial(user_id, user.username, current,
                            ([current] if current else []) + history)


def my_password_material(ctx: RequestContext) -> PasswordMaterial:
    if ctx.principal is None:
        raise PermissionDenied()
    return password_material(ctx.principal.user_id)


def store_password(user_id: int, new_hash: str, *, must_change: bool) -> None:
    """Set the password hash; the previous one goes to the history (trimmed to the policy)."""
    credential = Credential.select().where(Credential.user == user_id).for_update().first()
    moment = now()
    if credential is None:
        Credential.insert(user=user_id, password_hash=new_hash, changed_at=moment,
                          must_change=must_change, failed_count=0).execute()
        return
    PasswordHistory.insert(user=user_id, password_hash=credential.password_hash,
                           created_at=credential.changed_at).execute()
    Credential.update(password_hash=new_hash, changed_at=moment, must_change=must_change,
                      failed_count=0, locked_until=None).where(Credential.user == user_id).execute()
    keep = PasswordHistory.select(PasswordHistory.id).where(PasswordHistory.user == user_id
        ).order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc()
        ).limit(max(1, settings().password_history))
    PasswordHistory.delete().where(PasswordHistory.user == user_id,
                                   PasswordHistory.id.not_in(keep)).execute()


def change_own_password(ctx: RequestContext, expected_current_hash: str | None,
                        new_hash: str) -> None:
    """Store the user's new password (checked by the flow); other sessions end."""
    if ctx.principal is None:
        raise PermissionDenied()
    user_id = ctx.principal.user_id
    credential = Credential.select().where(Credential.user == user_id).for_update().first()
    if credential is None or credential.password_hash != expected_current_hash:
        raise ValidationError({"old_password": "密码已被修改，请重新输入"})
    store_password(user_id, new_hash, must_change=False)
    keep = int(ctx.principal.session_id) if ctx.principal.session_id.isdigit() else None
    ended = end_user_sessions(user_id, "password", keep_session_id=keep)
    audit(ctx, "auth.password.change", object_type="user", object_id=user_id,
          details={"other_sessions_ended": ended})


def audit_password_change_refused(ctx: RequestContext, reason: str) -> None:
    audit(ctx, "auth.password.change", object_type="user", object_id=ctx.user_id,
          outcome="failure", details={"reason": reason})


# ---- the 系统管理员's account operations ------------------------------------------------------
def _target(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


def _admin_kind(user_id: int) -> str | None:
    row = UserRole.select(UserRole.admin_kind).where(UserRole.user == user_id,
                                                     UserRole.admin_kind.is_null(False)).first()
    return row.admin_kind if row else None


def unlock_account(ctx: RequestContext, user_id: int) -> None:
    ctx.require(USER_UNLOCK)
    user = _target(user_id)
    _unlock(ctx, user)


def _unlock(ctx: RequestContext, user: User) -> None:
    Credential.update(failed_count=0, locked_until=None).where(Credential.user == user.id).execute()
    _clear_failures(normalise_username(user.username), None)
    audit(ctx, "auth.account.unlock", object_type="user", object_id=user.id,
          details={"username": user.username})


def check_reset_allowed(ctx: RequestContext, user_id: int) -> None:
    """Before hashing: may the actor reset this user's password?"""
    ctx.require(USER_RESET_PASSWORD)
    user = _target(user_id)
    if user.id == ctx.user_id:
        raise PermissionDenied(USER_RESET_PASSWORD, "请在“个人设置”中修改自己的密码")
    if _admin_kind(user.id):
        raise PermissionDenied(USER_RESET_PASSWORD,
                               "管理员账号的密码只能由运维人员在服务器上用 "
                               "oa-ops user reset-password 重置")


def reset_password(ctx: RequestContext, user_id: int, new_hash: str) -> None:
    check_reset_allowed(ctx, user_id)
    _reset(ctx, _target(user_id), new_hash)


def _reset(ctx: RequestContext, user: User, new_hash: str) -> None:
    store_password(user.id, new_hash, must_change=True)
    _clear_failures(normalise_username(user.username), None)
    ended = end_user_sessions(user.id, "password")
    audit(ctx, "auth.password.reset", object_type="user", object_id=user.id,
          details={"username": user.username, "sessions_ended": ended})


def account_state(user_id: int) -> dict[str, object]:
    """Lock and password facts for an administrator's user page."""
    credential = Credential.get_or_none(Credential.user == user_id)
    if credential is None:
        return {"has_password": False, "locked": False, "failed_count": 0,
                "locked_until": None, "last_login_at": None, "must_change": False}
    return {"has_password": True, "locked": _is_locked(credential),
            "failed_count": credential.failed_count, "locked_until": credential.locked_until,
            "last_login_at": credential.last_login_at, "must_change": credential.must_change}


# ---- operator commands (oa-ops user ...): the console is the authority -------------------------
def _by_username(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    return user


def _department(ref: str) -> Department:
    query = Department.select().where(Department.name == ref)
    if ref.isdigit():
        query = Department.select().where((Department.id == int(ref)) | (Department.name == ref))
    found = list(query.limit(2))
    if not found:
        raise ValidationError({"department": f"部门不存在：{ref}"})
    if len(found) > 1:
        raise ValidationError({"department": f"部门名称不唯一，请改用部门编号：{ref}"})
    return found[0]


def operator_create_user(ctx: RequestContext, username: str, name: str, department: str,
                         role_codes: list[str], password_hash: str, employee_no: str = "",
                         must_change: bool = True) -> int:
    from app.auth.roles import sync_built_in_roles
    from app.org.names import name_pinyin

    username = normalise_username(username)
    if find_user(username) is not None:
        raise ValidationError({"username": f"用户名已存在：{username}"})
    dept = _department(department)
    sync_built_in_roles()
    roles = list(Role.select().where(Role.code.in_(role_codes or [""])))
    missing = set(role_codes) - {r.code for r in roles}
    if missing:
        raise ValidationError({"role": "角色不存在：" + "、".join(sorted(missing))})
    pinyin, initials = name_pinyin(name)
    moment = now()
    try:
        with database.atomic():
            user = User.create(username=username, employee_no=employee_no or username[:20],
                               name=name, name_pinyin=pinyin, name_initials=initials,
                               department=dept, created_at=moment, updated_at=moment)
    except pw.IntegrityError as exc:
        raise ValidationError(message=f"无法创建用户（用户名或工号重复，或格式不符）：{exc}"
                              ) from None
    store_password(user.id, password_hash, must_change=must_change)
    write_user_roles(user.id, roles, None)
    audit(ctx, "org.user.create", object_type="user", object_id=user.id,
          details={"username": username, "name": name, "department": dept.name,
                   "roles": sorted(role_codes)})
    return user.id


def operator_reset_password(ctx: RequestContext, username: str, password_hash: str) -> None:
    _reset(ctx, _by_username(username), password_hash)


def operator_unlock(ctx: RequestContext, username: str) -> None:
    _unlock(ctx, _by_username(username))


def operator_disable(ctx: RequestContext, username: str) -> None:
    user = _by_username(username)
    User.update(status="disabled", updated_at=now()).where(User.id == user.id).execute()
    ended = end_user_sessions(user.id, "disabled")
    audit(ctx, "org.user.disable", object_type="user", object_id=user.id,
          details={"username": user.username, "sessions_ended": ended})
