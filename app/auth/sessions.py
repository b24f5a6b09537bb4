"""Server-side sessions: creation at login, resolution per request, expiry and revocation.

The browser holds a random 256-bit id (`secrets.token_urlsafe(32)`); the table holds only its
SHA-256, so neither a database dump nor a log line carries a usable session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import peewee as pw

from app.auth.events import audit
from app.auth.models import UserSession
from app.auth.roles import SESSION_MANAGE, merge_grants
from app.core.config import settings
from app.core.context import Principal, RequestContext
from app.core.db import execute_prepared
from app.core.errors import NotFound, PermissionDenied
from app.core.features import Scope
from app.org.models import Department, User

MFA_STAGE_MINUTES = 5
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen_at is written at most once a minute
PASSWORD_URL = "/account/password"
TOTP_URL = "/account/totp"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


# ---- creating and ending ----------------------------------------------------------------------
def create_session(ctx: RequestContext, user_id: int, stage: str = "active") -> str:
    """A new session row; returns the id for the cookie. Ends the oldest beyond the limit."""
    token = new_token()
    moment = now()
    lifetime = (dt.timedelta(minutes=MFA_STAGE_MINUTES) if stage == "mfa"
                else dt.timedelta(hours=settings().session_absolute_hours))
    UserSession.create(token_hash=token_hash(token), user=user_id, stage=stage,
                       created_at=moment, last_seen_at=moment, expires_at=moment + lifetime,
                       ip=ctx.ip[:64], user_agent=ctx.user_agent[:300])
    if stage == "active":
        enforce_session_limit(user_id)
    return token


def promote_session(ctx: RequestContext, session: UserSession) -> str:
    """After the second factor: a NEW id for the now signed-in session (no fixation)."""
    token = new_token()
    moment = now()
    UserSession.update(token_hash=token_hash(token), stage="active", created_at=moment,
                       last_seen_at=moment,
                       expires_at=moment + dt.timedelta(hours=settings().session_absolute_hours),
                       ip=ctx.ip[:64]).where(UserSession.id == session.id).execute()
    enforce_session_limit(session.user_id)
    return token


def _live() -> pw.Expression:
    return UserSession.ended_at.is_null() & (UserSession.stage == "active")


def enforce_session_limit(user_id: int) -> None:
    limit = max(1, settings().session_max_per_user)
    live = list(UserSession.select(UserSession.id)
                .where(_live(), UserSession.user == user_id, UserSession.expires_at > now())
                .order_by(UserSession.created_at.desc(), UserSession.id.desc()))
    surplus = [s.id for s in live[limit:]]
    if surplus:
        _end(surplus, "limit")


def _end(ids: list[int], reason: str) -> int:
    return (UserSession.update(ended_at=now(), ended_reason=reason)
            .where(UserSession.id.in_(ids), UserSession.ended_at.is_null()).execute())


def end_user_sessions(user_id: int, reason: str, keep_session_id: int | None = None) -> int:
    query = UserSession.select(UserSession.id).where(UserSession.user == user_id,
                                                     UserSession.ended_at.is_null())
    if keep_session_id is not None:
        query = query.where(UserSession.id != keep_session_id)
    return _end([s.id for s in query], reason)


def end_by_token(token: str, reason: str) -> UserSession | None:
    session = UserSession.get_or_none(UserSession.token_hash == token_hash(token),
                                      UserSession.ended_at.is_null())
    if session is not None:
        _end([session.id], reason)
    return session


def logout(ctx: RequestContext, token: str) -> None:
    session = end_by_token(token, "logout")
    if session is not None and session.stage == "active":
        audit(ctx, "auth.logout", object_type="session", object_id=session.id)


# ---- resolution per request -------------------------------------------------------------------
# Every request resolves its session, so it is ONE statement, run outside any transaction
# (app.core.db.run_statements): the session with its user, password state, TOTP enrolment and
# the grants' generation stamp. last_seen_at is touched by a statement of its own, only when it
# is a minute old (TOUCH_EVERY) and the checks below let the session live: the touch used to
# ride along as a data-modifying CTE, whose UPDATE searched the row again on every request to
# write it once a minute (bench/README.md, finding 76). The user's roles and
# merged permissions are kept per process (`_grants`) under the stamp they were read with: any
# change of a role, a grant or a membership changes the stamp (core schema 0001, auth
# migration 0004), so the next request of every user reads them again (a second statement,
# which returns the stamp its own snapshot saw). The stamp is read as text: equal stamps
# compare equal, and no UUID object is made per request.
_RESOLVE_SQL = """
SELECT s.id, s.expires_at, s.last_seen_at, u.id, u.username, u.name, u.department_id,
       u.clearance, u.status, c.changed_at, c.must_change,
       EXISTS (SELECT 1 FROM totp t WHERE t.user_id = u.id AND t.enrolled_at IS NOT NULL),
       (SELECT stamp::text FROM cache_generation WHERE topic = 'grants')
FROM user_session s JOIN app_user u ON u.id = s.user_id
LEFT JOIN credential c ON c.user_id = u.id
WHERE s.token_hash = %(hash)s AND s.ended_at IS NULL AND s.stage = 'active'
"""

# A session ended meanwhile (logout, an administrator) is not touched.
_TOUCH_SQL = ("UPDATE user_session SET last_seen_at = %(now)s"
              " WHERE id = %(id)s AND ended_at IS NULL AND last_seen_at < %(now)s")

_GRANTS_SQL = """
SELECT (SELECT coalesce(json_agg(json_build_array(r.code, r.admin_kind)), '[]'::json)
          FROM user_role ur JOIN role r ON r.id = ur.role_id WHERE ur.user_id = %(user)s),
       (SELECT coalesce(json_agg(json_build_array(rp.permission, rp.scope)), '[]'::json)
          FROM user_role ur JOIN role_permission rp ON rp.role_id = ur.role_id
         WHERE ur.user_id = %(user)s),
       (SELECT stamp::text FROM cache_generation WHERE topic = 'grants')
"""


@dataclass(frozen=True)
class _Grants:
    stamp: object  # the "grants" generation stamp they were read under (None: not cacheable)
    permissions: dict[str, Scope]
    admin_kind: str | None
    role_codes: list[str]


_GRANTS_KEPT = 10_000  # users whose grants a process keeps; beyond, it starts afresh
_grants: dict[int, _Grants] = {}


def _grants_of(user_id: int, stamp: object) -> _Grants:
    """The user's merged grants, from this process's cache when read under `stamp`."""
    kept = _grants.get(user_id)
    if kept is not None and stamp is not None and kept.stamp == stamp:
        return kept
    roles, grants, read_under = execute_prepared(_GRANTS_SQL, {"user": user_id}).fetchone()
    permissions, admin_kind, role_codes = merge_grants(grants, roles)
    fresh = _Grants(read_under, permissions, admin_kind, role_codes)
    if read_under is not None:
        if len(_grants) >= _GRANTS_KEPT:
            _grants.clear()
        _grants[user_id] = fresh
    return fresh


def resolve_session(token: str, ip: str) -> Principal | None:
    """hooks.resolve_session: the signed-in principal for a cookie value, or None.

    last_seen_at is written at most once a minute (TOUCH_EVERY), not on every request: the idle
    timeout is counted from it, so a session can end at most a minute EARLIER than the exact
    idle limit, never later; the absolute limit (expires_at) does not depend on it."""
    moment = now()
    idle = dt.timedelta(minutes=settings().session_idle_minutes)
    row = execute_prepared(_RESOLVE_SQL, {"hash": token_hash(token)}).fetchone()
    if row is None:
        return None
    (session_id, expires_at, last_seen_at, user_id, username, name, department_id, clearance,
     status, changed_at, must_change, enrolled, stamp) = row
    if moment >= expires_at:
        _end([session_id], "expired")
        return None
    if moment - last_seen_at > idle:
        _end([session_id], "idle")
        return None
    if status != "active":
        _end([session_id], "disabled")
        return None
    if moment - last_seen_at >= TOUCH_EVERY:
        execute_prepared(_TOUCH_SQL, {"now": moment, "id": session_id})
    grants = _grants_of(user_id, stamp)
    pending, notices = _pending_steps(changed_at, must_change, grants.role_codes, enrolled)
    return Principal(user_id=user_id, username=username, name=name,
                     department_id=department_id, session_id=str(session_id),
                     permissions=grants.permissions, admin_role=grants.admin_kind,
                     clearance=clearance, pending_url=pending, notices=notices)


def _pending_steps(changed_at: dt.datetime | None, must_change: bool | None,
                   role_codes: list[str], enrolled: bool
                   ) -> tuple[str | None, tuple[str, ...]]:
    """The step the user must finish first (password change, TOTP enrolment) and notices."""
    cfg = settings()
    pending: str | None = None
    notices: list[str] = []
    if changed_at is not None:
        left = dt.timedelta(days=cfg.password_max_age_days) - (now() - changed_at)
        if must_change or left <= dt.timedelta(0):
            pending = PASSWORD_URL
        elif left <= dt.timedelta(days=cfg.password_warn_days):
            days = max(1, left.days + (1 if left.seconds else 0))
            notices.append(f"您的密码将在 {days} 天后过期，请尽快修改。")
    if pending is None and totp_required(role_codes) and not enrolled:
        pending = TOTP_URL
    return pending, tuple(notices)


def totp_required(role_codes: list[str]) -> bool:
    required = set(settings().totp_required_roles)
    return any(code in required for code in role_codes)


def active_sessions() -> int:
    """hooks.active_sessions: live, signed-in sessions (for /metrics)."""
    idle = dt.timedelta(minutes=settings().session_idle_minutes)
    moment = now()
    return (UserSession.select().where(_live(), UserSession.expires_at > moment,
                                       UserSession.last_seen_at > moment - idle).count())


# ---- seeing and ending sessions ---------------------------------------------------------------
@dataclass
class SessionView:
    id: int
    user_id: int
    username: str
    name: str
    department: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    ip: str
    user_agent: str
    current: bool


def _views(query: pw.Query, ctx: RequestContext) -> list[SessionView]:
    moment = now()
    idle = dt.timedelta(minutes=settings().session_idle_minutes)
    current = ctx.principal.session_id if ctx.principal else ""
    rows = (query.where(_live(), UserSession.expires_at > moment,
                        UserSession.last_seen_at > moment - idle)
            .order_by(UserSession.last_seen_at.desc()))
    return [SessionView(s.id, s.user.id, s.user.username, s.user.name, s.user.department.name,
                        s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent,
                        str(s.id) == current) for s in rows]


def _joined() -> pw.Query:
    return UserSession.select(UserSession, User, Department).join(User).join(Department)


def my_sessions(ctx: RequestContext) -> list[SessionView]:
    if ctx.principal is None:
        raise PermissionDenied()
    return _views(_joined().where(UserSession.user == ctx.principal.user_id), ctx)


def all_sessions(ctx: RequestContext, query: str = "") -> list[SessionView]:
    ctx.require(SESSION_MANAGE)
    sessions = _joined()
    if query:
        sessions = sessions.where(User.username.contains(query.lower()) | User.name.contains(query))
    audit(ctx, "auth.session.list", object_type="session", details={"query": query})
    return _views(sessions.limit(500), ctx)


def end_session(ctx: RequestContext, session_id: int) -> None:
    """End one session: one's own, or anyone's with auth.session.manage."""
    if ctx.principal is None:
        raise PermissionDenied()
    session = UserSession.get_or_none(UserSession.id == session_id)
    if session is None:
        raise NotFound("会话不存在或已结束")
    if session.user_id != ctx.principal.user_id and not ctx.principal.can(SESSION_MANAGE):
        raise PermissionDenied(SESSION_MANAGE, "只能结束自己的会话")
    if session.ended_at is not None:
        raise NotFound("会话不存在或已结束")
    _end([session.id], "revoked")
    audit(ctx, "auth.session.end", object_type="session", object_id=session.id,
          details={"owner": session.user_id})

