"""Test accounts: create users with passwords and roles, and sign in through the real pages.

    user = make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")

Role codes of the built-in roles: "staff" (普通用户: every business permission, scope 本部门),
"sysadmin" (系统管理员), "secadmin" (安全管理员), "auditor" (安全审计员). An administrator
role is exclusive (三员分立): it cannot be combined with any other role on one account.
Administrators must have TOTP: pass `totp=True` (the secret is then `totp_secret(user)`), and
`login(..., totp_secret=...)` completes the second step; without it an administrator's session
is sent to /account/totp first.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time

import pyotp

from app.auth import captcha, passwords, service
from app.auth.models import CaptchaChallenge, Role, RolePermission, Totp
from app.auth.roles import sync_built_in_roles, user_permissions, write_user_roles
from app.auth.sessions import token_hash
from app.core.context import Principal, RequestContext
from app.core.db import run_in_transaction
from app.org.models import Department, User
from app.org.names import name_pinyin

DEFAULT_PASSWORD = "Test@pass2026"
TEST_DEPARTMENT = "测试科"
CAPTCHA_ANSWER = "TEST"
_numbers = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _hash(password: str) -> str:
    # Argon2 is slow on purpose; tests reuse one hash per distinct password.
    if password not in _hash_cache:
        _hash_cache[password] = passwords.hash_password(password)
    return _hash_cache[password]


def default_department() -> Department:
    """The shared test department (made on first use); call inside a transaction."""
    found = Department.get_or_none(Department.name == TEST_DEPARTMENT,
                                   Department.parent.is_null())
    if found is not None:
        return found
    now = dt.datetime.now(dt.UTC)
    return Department.create(name=TEST_DEPARTMENT, doc_code="测", created_at=now, updated_at=now)


def make_user(username: str, *, name: str | None = None, department: Department | None = None,
              password: str = DEFAULT_PASSWORD, roles: tuple[str, ...] | list[str] = (),
              must_change: bool = False, totp: bool = False, clearance: int = 0) -> User:
    """A user with a password credential, roles and optionally an enrolled TOTP (blocking)."""
    password_hash = _hash(password)

    def create() -> User:
        sync_built_in_roles()
        dept = department or default_department()
        now = dt.datetime.now(dt.UTC)
        display = name or username
        pinyin, initials = name_pinyin(display)
        user = User.create(username=username, employee_no=f"T{next(_numbers):05d}{username}"[:20],
                           name=display, name_pinyin=pinyin, name_initials=initials,
                           department=dept, clearance=clearance, created_at=now, updated_at=now)
        service.store_password(user.id, password_hash, must_change=must_change)
        found = list(Role.select().where(Role.code.in_(list(roles) or [""])))
        missing = set(roles) - {r.code for r in found}
        if missing:
            raise ValueError(f"unknown role codes: {sorted(missing)}")
        write_user_roles(user.id, found, None)
        if totp:
            Totp.create(user=user.id, secret=pyotp.random_base32(), enrolled_at=now,
                        last_used_step=0)
        return user

    return run_in_transaction(create)


def totp_secret(user: User | int) -> str:
    user_id = user if isinstance(user, int) else user.id
    return run_in_transaction(lambda: Totp.get(Totp.user == user_id).secret)


def fresh_code(secret: str, user: User | int) -> str:
    """A code whose step is later than the last one used: the current step's, or the next
    step's (accepted: within the ±1 step window). Two logins of one TOTP user per 30 s at most."""
    user_id = user if isinstance(user, int) else user.id
    last = run_in_transaction(lambda: Totp.get(Totp.user == user_id).last_used_step)
    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    if step > last:
        return totp.generate_otp(step)
    return totp.generate_otp(last + 1)  # accepted: one step ahead is within the window


def solve_captcha(client) -> str:
    """Fetch a captcha image (as the browser does) and give its challenge a known answer."""
    response = client.get("/login/captcha")
    assert response.status_code == 200, response.status_code
    token = client.cookies.get(captcha.COOKIE)
    run_in_transaction(lambda: CaptchaChallenge.update(
        answer_hash=captcha.answer_hash(token, CAPTCHA_ANSWER)
    ).where(CaptchaChallenge.token_hash == token_hash(token)).execute())
    return CAPTCHA_ANSWER


def login_response(client, username: str, password: str = DEFAULT_PASSWORD,
                   captcha_answer: str | None = None, next_url: str | None = None):
    """POST /login once; returns the response (no assertion)."""
    data = {"username": username, "password": password}
    if captcha_answer is not None:
        data["captcha"] = captcha_answer
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data=data)


def login(client, username: str, password: str = DEFAULT_PASSWORD,
          totp_secret: str | None = None) -> None:
    """Sign in through /login (solving the captcha if the page asks) and /login/totp."""
    page = client.get("/login")
    assert page.status_code in (200, 302), page.status_code
    answer = solve_captcha(client) if 'name="captcha"' in page.text else None
    response = login_response(client, username, password, answer)
    if response.status_code == 400 and 'name="captcha"' in response.text and answer is None:
        response = login_response(client, username, password, solve_captcha(client))
    assert response.status_code == 302, _failure(response)
    if response.headers["Location"].startswith("/login/totp"):
        assert totp_secret, f"{username} has TOTP: pass totp_secret"
        user_id = run_in_transaction(lambda: service.find_user(username).id)
        response = client.post(response.headers["Location"],
                               data={"code": fresh_code(totp_secret, user_id)})
        assert response.status_code == 302, _failure(response)
    assert client.cookies.get("oa_sid"), "no session cookie after login"


def _failure(response) -> str:
    messages = re.findall(r'<div class="error">([^<]*)</div>', response.text)
    return f"login failed: HTTP {response.status_code} {messages}"


__all__ = ["DEFAULT_PASSWORD", "default_department", "fresh_code", "login", "login_response",
           "make_user", "solve_captcha", "totp_secret"]


def ctx_for(user: User) -> RequestContext:
    """The context a signed-in user's requests carry (permissions from the real roles)."""
    def load() -> RequestContext:
        permissions, admin, _ = user_permissions(user.id)
        fresh = User.get_by_id(user.id)
        return RequestContext(principal=Principal(
            user_id=fresh.id, username=fresh.username, name=fresh.name,
            department_id=fresh.department_id, session_id="test", permissions=permissions,
            admin_role=admin, clearance=fresh.clearance), ip="127.0.0.1", request_id="test")

    return run_in_transaction(load)


def make_department(name: str, parent: Department | None = None, doc_code: str = "",
                short_name: str = "") -> Department:
    """A department created in its own transaction."""
    now = dt.datetime.now(dt.UTC)
    return run_in_transaction(lambda: Department.create(
        name=name, parent=parent, doc_code=doc_code, short_name=short_name,
        created_at=now, updated_at=now))


def make_role(code: str, grants: dict[str, str]) -> None:
    """A custom role granting `permission -> scope`."""
    def create() -> None:
        now = dt.datetime.now(dt.UTC)
        role = Role.create(code=code, name=code, description="", built_in=False,
                           admin_kind=None, created_at=now, updated_at=now)
        for permission, scope in grants.items():
            RolePermission.create(role=role.id, permission=permission, scope=scope)
    run_in_transaction(create)
