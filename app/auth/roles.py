"""Roles, permissions and 三员分立.

Built-in roles, kept in step with the features' declarations by `sync_built_in_roles` (called
at start-up in `on_start`, by the demo loader, by `oa-ops user create` and by the tests'
account helper; it is idempotent and safe to run from several processes at once):

- 系统管理员 `sysadmin`, 安全管理员 `secadmin`, 安全审计员 `auditor`: exactly the permissions of
  their duty (Duty.SYSTEM / SECURITY / AUDIT) declared by all features, scope 全部. Nobody can
  edit them: when a feature declares a new admin permission, the role has it at the next start.
- 普通用户 `staff`: every business permission, scope 本部门, offered ONCE when the permission is
  first seen (table permission_catalog); the 安全管理员 may narrow it later and that sticks.

Rules enforced here and, for the last one, by the database too:
- business roles never contain administrator-duty permissions;
- an administrator role is exclusive: an account holding one holds no other role, so no account
  combines two of the three administrators (partial unique index on user_role) or mixes an
  administrator with business data access; there is no super-user role;
- nobody changes their own roles.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import peewee as pw

from app.auth.events import audit
from app.auth.models import (
    ADMIN_KINDS,
    ADMIN_TITLES,
    PermissionCatalog,
    Role,
    RolePermission,
    UserRole,
)
from app.core.context import RequestContext
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.features import SCOPE_ORDER, Duty, Feature, Permission, Scope
from app.org.models import Department, User

ROLE_MANAGE = "auth.role.manage"
ROLE_ASSIGN = "auth.user_role.assign"
SESSION_MANAGE = "auth.session.manage"
USER_UNLOCK = "auth.user.unlock"
USER_RESET_PASSWORD = "auth.user.reset_password"

PERMISSIONS = [
    Permission(ROLE_MANAGE, "管理角色及其权限", Duty.SECURITY),
    Permission(ROLE_ASSIGN, "为用户分配角色", Duty.SECURITY),
    Permission(SESSION_MANAGE, "查看并结束任何人的会话", Duty.SECURITY),
    Permission(USER_UNLOCK, "解锁被锁定的账号", Duty.SYSTEM),
    Permission(USER_RESET_PASSWORD, "重置用户密码", Duty.SYSTEM),
]

STAFF = "staff"
STAFF_SCOPE = Scope.DEPARTMENT
ADMIN_DUTY = {"sysadmin": Duty.SYSTEM, "secadmin": Duty.SECURITY, "auditor": Duty.AUDIT}
BUILT_IN = {
    STAFF: ("普通用户", "所有工作人员的日常业务权限", None),
    "sysadmin": ("系统管理员", "用户、部门与系统配置；不能分配权限，不能查看审计日志", "sysadmin"),
    "secadmin": ("安全管理员", "角色、权限与安全策略；不能管理业务数据和用户", "secadmin"),
    "auditor": ("安全审计员", "查看和导出审计日志；不能做任何修改", "auditor"),
}
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
EXCLUSIVE_MESSAGE = "管理员角色（系统管理员、安全管理员、安全审计员）只能单独授予，一个账号不能兼任"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _features(features: Iterable[Feature] | None) -> list[Feature]:
    if features is None:
        from app.features import installed_features

        return installed_features()
    return list(features)


def declared_permissions(features: Iterable[Feature] | None = None) -> dict[str, Permission]:
    return {p.code: p for f in _features(features) for p in f.permissions}


def permission_groups(
        features: Iterable[Feature] | None = None) -> list[tuple[str, list[Permission]]]:
    """(feature title, its permissions) for the role editor."""
    return [(f.title, list(f.permissions)) for f in _features(features) if f.permissions]


# ---- keeping the built-in roles in step with the declarations --------------------------------
def sync_built_in_roles(features: Iterable[Feature] | None = None) -> None:
    """Blocking, inside a transaction. Idempotent; see the module doc."""
    # every worker process runs this at start: one at a time, so none deadlocks another
    Role._meta.database.execute_sql("SELECT pg_advisory_xact_lock(7201127)")
    declared = declared_permissions(features)
    now = _now()
    for code, (name, description, admin_kind) in BUILT_IN.items():
        Role.insert(code=code, name=name, description=description, built_in=True,
                    admin_kind=admin_kind, created_at=now, updated_at=now
                    ).on_conflict_ignore().execute()
    roles = {r.code: r for r in Role.select().where(Role.code.in_(list(BUILT_IN)))}
    for kind, duty in ADMIN_DUTY.items():
        wanted = sorted(c for c, p in declared.items() if p.duty == duty)
        role = roles[kind]
        RolePermission.delete().where(RolePermission.role == role,
                                      RolePermission.permission.not_in(wanted or [""])).execute()
        RolePermission.update(scope=Scope.ALL.value).where(RolePermission.role == role).execute()
        if wanted:
            RolePermission.insert_many(
                [{"role": role.id, "permission": c, "scope": Scope.ALL.value} for c in wanted]
            ).on_conflict_ignore().execute()
    known = {c.code for c in PermissionCatalog.select(PermissionCatalog.code)}
    new = sorted(set(declared) - known)
    if new:
        PermissionCatalog.insert_many(
            [{"code": c, "first_seen_at": now} for c in new]).on_conflict_ignore().execute()
        business = [c for c in new
                    if declared[c].duty == Duty.BUSINESS and declared[c].staff_default]
        if business:
            RolePermission.insert_many(
                [{"role": roles[STAFF].id, "permission": c, "scope": STAFF_SCOPE.value}
                 for c in business]).on_conflict_ignore().execute()
    # a business role never keeps an administrator-duty permission (e.g. a duty changed)
    admin_codes = [c for c, p in declared.items() if p.duty != Duty.BUSINESS]
    if admin_codes:
        business_roles = Role.select(Role.id).where(Role.admin_kind.is_null())
        RolePermission.delete().where(RolePermission.role.in_(business_roles),
                                      RolePermission.permission.in_(admin_codes)).execute()


# ---- what a user may do -----------------------------------------------------------------------
def user_permissions(user_id: int) -> tuple[dict[str, Scope], str | None, list[str]]:
    """(permission -> widest scope over all roles, administrator kind, role codes)."""
    rows = (RolePermission.select(RolePermission.permission, RolePermission.scope)
            .join(UserRole, on=(UserRole.role == RolePermission.role))
            .where(UserRole.user == user_id).tuples())
    roles = list(Role.select(Role.code, Role.admin_kind).join(UserRole)
                 .where(UserRole.user == user_id).tuples())
    return merge_grants(rows, roles)


def merge_grants(grants: Iterable[Sequence[str]], roles: Sequence[Sequence[str | None]]
                 ) -> tuple[dict[str, Scope], str | None, list[str]]:
    """(permission, scope) rows and (role code, admin kind) rows -> user_permissions' result."""
    merged: dict[str, Scope] = {}
    for code, scope_text in grants:
        scope = Scope(scope_text)
        current = merged.get(code)
        if current is None or SCOPE_ORDER.index(scope) > SCOPE_ORDER.index(current):
            merged[code] = scope
    admin = next((kind for _, kind in roles if kind), None)
    return merged, admin, [str(code) for code, _ in roles]


# ---- role administration (安全管理员) ---------------------------------------------------------
@dataclass
class RoleView:
    id: int
    code: str
    name: str
    description: str
    built_in: bool
    admin_kind: str | None
    grants: dict[str, Scope]
    member_count: int

    @property
    def editable(self) -> bool:
        return self.admin_kind is None


def _view(role: Role, members: int | None = None) -> RoleView:
    grants = {g.permission: Scope(g.scope) for g in
              RolePermission.select().where(RolePermission.role == role)}
    if members is None:
        members = UserRole.select().where(UserRole.role == role).count()
    return RoleView(role.id, role.code, role.name, role.description, role.built_in,
                    role.admin_kind, grants, members)


def list_roles(ctx: RequestContext) -> list[RoleView]:
    ctx.require(ROLE_MANAGE)
    counts = dict(UserRole.select(UserRole.role, pw.fn.COUNT(UserRole.user))
                  .group_by(UserRole.role).tuples())
    roles = Role.select().order_by(Role.admin_kind.is_null(), Role.built_in.desc(), Role.id)
    return [_view(r, counts.get(r.id, 0)) for r in roles]


def get_role(ctx: RequestContext, role_id: int) -> RoleView:
    ctx.require(ROLE_MANAGE)
    role = Role.get_or_none(Role.id == role_id)
    if role is None:
        raise NotFound("角色不存在")
    return _view(role)


def _clean_grants(grants: dict[str, str], features: Iterable[Feature] | None) -> dict[str, Scope]:
    declared = declared_permissions(features)
    cleaned: dict[str, Scope] = {}
    errors: dict[str, str] = {}
    for code, scope in grants.items():
        permission = declared.get(code)
        if permission is None:
            errors[f"scope_{code}"] = "没有这项权限"
        elif permission.duty != Duty.BUSINESS:
            errors[f"scope_{code}"] = (f"“{permission.title}”属于管理员职责，"
                                       "不能授予业务角色（三员分立）")
        elif scope not in {s.value for s in Scope}:
            errors[f"scope_{code}"] = "数据范围无效"
        else:
            cleaned[code] = Scope(scope)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_name(name: str, role_id: int | None) -> None:
    clash = Role.select().where(pw.fn.lower(Role.name) == name.lower())
    if role_id is not None:
        clash = clash.where(Role.id != role_id)
    if clash.exists():
        raise ValidationError({"name": "已有同名角色"})


def _write_grants(role: Role, grants: dict[str, Scope]) -> None:
    RolePermission.delete().where(RolePermission.role == role).execute()
    if grants:
        RolePermission.insert_many([{"role": role.id, "permission": c, "scope": s.value}
                                    for c, s in sorted(grants.items())]).execute()


def create_role(ctx: RequestContext, code: str, name: str, description: str,
                grants: dict[str, str], features: Iterable[Feature] | None = None) -> int:
    ctx.require(ROLE_MANAGE)
    if not _CODE.match(code):
        raise ValidationError(
            {"code": "角色代码须以小写字母开头，由小写字母、数字、下划线组成，2-40位"})
    if Role.select().where(Role.code == code).exists():
        raise ValidationError({"code": "角色代码已被使用"})
    _check_name(name, None)
    cleaned = _clean_grants(grants, features)
    now = _now()
    role = Role.create(code=code, name=name, description=description, built_in=False,
                       created_at=now, updated_at=now)
    _write_grants(role, cleaned)
    audit(ctx, "auth.role.create", object_type="role", object_id=role.id,
          details={"code": code, "name": name,
                   "grants": {c: s.value for c, s in cleaned.items()}})
    return role.id


def update_role(ctx: RequestContext, role_id: int, name: str, description: str,
                grants: dict[str, str], features: Iterable[Feature] | None = None) -> None:
    ctx.require(ROLE_MANAGE)
    role = Role.select().where(Role.id == role_id).for_update().first()
    if role is None:
        raise NotFound("角色不存在")
    if role.admin_kind:
        raise PermissionDenied(message="三员管理员角色的权限由系统按职责确定，不能修改")
    _check_name(name, role.id)
    cleaned = _clean_grants(grants, features)
    before = {g.permission: g.scope for g in role.grants}
    Role.update(name=name, description=description, updated_at=_now()
                ).where(Role.id == role.id).execute()
    _write_grants(role, cleaned)
    audit(ctx, "auth.role.update", object_type="role", object_id=role.id,
          details={"name": name, "before": before,
                   "after": {c: s.value for c, s in cleaned.items()}})


def delete_role(ctx: RequestContext, role_id: int) -> None:
    ctx.require(ROLE_MANAGE)
    role = Role.get_or_none(Role.id == role_id)
    if role is None:
        raise NotFound("角色不存在")
    if role.built_in:
        raise PermissionDenied(message="内置角色不能删除")
    members = UserRole.select().where(UserRole.role == role).count()
    if members:
        raise Conflict(f"仍有 {members} 个用户拥有该角色，请先取消授权")
    RolePermission.delete().where(RolePermission.role == role).execute()
    Role.delete().where(Role.id == role.id).execute()
    audit(ctx, "auth.role.delete", object_type="role", object_id=role_id,
          details={"code": role.code, "name": role.name})


# ---- role assignment --------------------------------------------------------------------------
@dataclass
class UserRoles:
    id: int
    username: str
    name: str
    department: str
    status: str
    role_ids: list[int]
    role_names: list[str]


def _user_roles(user: User) -> UserRoles:
    roles = list(Role.select().join(UserRole).where(UserRole.user == user.id).order_by(Role.id))
    return UserRoles(user.id, user.username, user.name, user.department.name, user.status,
                     [r.id for r in roles], [r.name for r in roles])


def list_user_roles(ctx: RequestContext, query: str = "", limit: int = 200) -> list[UserRoles]:
    ctx.require(ROLE_ASSIGN)
    users = User.select(User, Department).join(Department).order_by(User.username).limit(limit)
    if query:
        pattern = f"%{query.lower()}%"
        users = users.where(pw.fn.lower(User.username).contains(query.lower())
                            | User.name.contains(query) | (User.name_initials ** pattern))
    return [_user_roles(u) for u in users]


def get_user_roles(ctx: RequestContext, user_id: int) -> UserRoles:
    ctx.require(ROLE_ASSIGN)
    user = User.select(User, Department).join(Department).where(User.id == user_id).first()
    if user is None:
        raise NotFound("用户不存在")
    return _user_roles(user)


def all_roles() -> list[Role]:
    return list(Role.select().order_by(Role.admin_kind.is_null(), Role.id))


def check_role_set(roles: list[Role]) -> None:
    """Refuse a combination that breaks 三员分立, with a clear message."""
    admins = [r for r in roles if r.admin_kind]
    if admins and len(roles) > 1:
        raise ValidationError({"roles": EXCLUSIVE_MESSAGE}, message=EXCLUSIVE_MESSAGE)


def write_user_roles(user_id: int, roles: list[Role], granted_by: int | None) -> None:
    """Replace a user's roles (no permission check: callers check)."""
    check_role_set(roles)
    UserRole.delete().where(UserRole.user == user_id).execute()
    now = _now()
    for role in roles:
        try:
            with UserRole._meta.database.atomic():
                UserRole.insert(user=user_id, role=role.id, granted_at=now,
                                granted_by=granted_by).execute()
        except pw.IntegrityError as exc:
            constraint = getattr(getattr(getattr(exc, "orig", None), "diag", None),
                                 "constraint_name", None)
            if constraint != "user_role_one_admin_role":
                raise
            raise ValidationError({"roles": EXCLUSIVE_MESSAGE}, message=EXCLUSIVE_MESSAGE) \
                from None


def assign_roles(ctx: RequestContext, user_id: int, role_ids: list[int]) -> None:
    from app.auth.sessions import end_user_sessions  # sessions build on roles

    ctx.require(ROLE_ASSIGN)
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("用户不存在")
    if ctx.user_id == user.id:
        raise PermissionDenied(ROLE_ASSIGN, "不能修改自己的角色")
    roles = list(Role.select().where(Role.id.in_(role_ids or [0])))
    if len(roles) != len(set(role_ids)):
        raise ValidationError({"roles": "所选角色不存在"})
    before = [r.code for r in Role.select().join(UserRole).where(UserRole.user == user.id)]
    write_user_roles(user.id, roles, ctx.user_id)
    after = sorted(r.code for r in roles)
    # permissions are read per request, but an account that gains or loses an
    # administrator role starts afresh (e.g. to enrol TOTP)
    if {r for r in before if r in ADMIN_KINDS} != {r for r in after if r in ADMIN_KINDS}:
        end_user_sessions(user.id, "revoked")
    audit(ctx, "auth.user_role.assign", object_type="user", object_id=user.id,
          details={"before": sorted(before), "after": after})


def role_titles() -> dict[str, str]:
    return {**{STAFF: BUILT_IN[STAFF][0]}, **ADMIN_TITLES}


def grant_default_role(ctx: RequestContext, user_id: int) -> bool:
    """Give a new account the 普通用户 role when it has none (blocking; for the service that
    creates users, which has authorised its caller). True when the role was granted."""
    if UserRole.select().where(UserRole.user == user_id).exists():
        return False
    sync_built_in_roles()
    staff = Role.get(Role.code == STAFF)
    write_user_roles(user_id, [staff], ctx.user_id or None)
    audit(ctx, "auth.user_role.assign", object_type="user", object_id=user_id,
          details={"before": [], "after": [STAFF], "reason": "new account"})
    return True
