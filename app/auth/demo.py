"""Demo accounts (runs after the org feature's demo has made the bureau's people).

- every demo user without a password gets `Demo@2026` (no forced change, so the demo works)
  and the 普通用户 role;
- `xinren` (新入职民警) shows the forced change of the initial password at first login;
- `sysadmin`, `secadmin`, `auditor`: the three administrators, each with only their role and
  NO TOTP yet: they are sent to enrol it at first login.
Idempotent: existing passwords and roles are left as they are.
"""

from __future__ import annotations

from app.auth import passwords, service
from app.auth.models import Credential, Role, UserRole
from app.auth.roles import STAFF, sync_built_in_roles, write_user_roles
from app.auth.sessions import now
from app.org.models import Department, User
from app.org.names import name_pinyin

DEMO_PASSWORD = "Demo@2026"
ACCOUNTS = [  # username, name, employee no, role, must change the password
    ("sysadmin", "系统管理员", "ADM0001", "sysadmin", False),
    ("secadmin", "安全管理员", "ADM0002", "secadmin", False),
    ("auditor", "安全审计员", "ADM0003", "auditor", False),
    ("xinren", "新入职民警", "NEW0001", STAFF, True),
]
ADMIN_DEPARTMENT = "信息中心"


def _department() -> Department:
    found = (Department.get_or_none(Department.name == ADMIN_DEPARTMENT)
             or Department.select().order_by(Department.parent.is_null(False),
                                             Department.sort_order, Department.id).first())
    if found is None:
        moment = now()
        found = Department.create(name=ADMIN_DEPARTMENT, created_at=moment, updated_at=moment)
    return found


def load() -> None:
    sync_built_in_roles()
    roles = {r.code: r for r in Role.select()}
    dept = _department()
    demo_hash = passwords.hash_password(DEMO_PASSWORD)
    for username, name, number, role, must_change in ACCOUNTS:
        user = service.find_user(username)
        if user is None:
            pinyin, initials = name_pinyin(name)
            moment = now()
            user = User.create(username=username, employee_no=number, name=name,
                               name_pinyin=pinyin, name_initials=initials, department=dept,
                               created_at=moment, updated_at=moment)
        if not Credential.select().where(Credential.user == user.id).exists():
            service.store_password(user.id, demo_hash, must_change=must_change)
        if not UserRole.select().where(UserRole.user == user.id).exists():
            write_user_roles(user.id, [roles[role]], None)
    without_password = User.select().where(
        ~User.id.in_(Credential.select(Credential.user)))
    for user in without_password:
        # The demo password is published in the README, so one salted hash serves every demo
        # account (a load of ~60 Argon2 hashes would take seconds); real accounts each get
        # their own hash.
        service.store_password(user.id, demo_hash, must_change=False)
        if not UserRole.select().where(UserRole.user == user.id).exists():
            write_user_roles(user.id, [roles[STAFF]], None)
