"""组织机构的业务逻辑: the department tree, positions, users and the address book.

Every function taking `ctx` first is a unit of work's body (see app.core.db): it authorises
the actor against the objects it touches and records an audit row in the same transaction.
The helpers without `ctx` (`department`, `department_path`, `leader_of`, ...) are
building blocks for other features' services and do neither.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from app.core import events
from app.core.context import RequestContext
from app.core.db import database, execute_prepared
from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.core.features import Scope
from app.core.generation import Kept
from app.core.sql import like_prefix, paginated
from app.org.forms import (
    ADDRESSBOOK_QUERY,
    DEPARTMENT_SCHEMA,
    MOVE_SCHEMA,
    POSITION_SCHEMA,
    USER_QUERY,
    USER_SCHEMA,
    clean_each,
)
from app.org.models import (
    CLEARANCE_TITLES,
    STATUS_TITLES,
    Department,
    DepartmentDeputy,
    Position,
    User,
    UserDepartment,
    user_names,
)
from app.org.names import name_pinyin

MANAGE = "org.manage"
ADDRESSBOOK = "org.addressbook.view"


# ---- audit -------------------------------------------------------------------------------------
def audit(ctx: RequestContext, action: str, object_type: str = "", object_id: Any = None,
          details: dict[str, Any] | None = None, outcome: str = "success") -> None:
    """Record an audit row in the caller's transaction (app.audit owns the trail)."""
    from app.audit.service import record

    record(ctx, action, object_type=object_type, object_id=object_id, outcome=outcome,
           details=details)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- the department tree, kept per process under the "org" generation stamp ---------------
@dataclass
class DepartmentIndex:
    """Every department (disabled ones too) by id, and the children of each, in display order.

    `load()` answers from the process's copy while the department table is unchanged (one
    indexed read of the stamp instead of the whole table as objects: finding 28). The copy is
    shared by every thread: read it, never change its rows; a change goes through the
    database and replaces the copy."""

    rows: dict[int, Department]
    children: dict[int | None, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> DepartmentIndex:
        return _kept_index.get()

    @classmethod
    def read(cls) -> DepartmentIndex:
        query = Department.select().order_by(Department.sort_order, Department.id)
        index = cls({d.id: d for d in query})
        for dept in index.rows.values():
            index.children.setdefault(dept.parent_id, []).append(dept.id)
        return index

    def chain(self, dept_id: int) -> list[int]:
        """The department and every department above it, nearest first (empty if unknown)."""
        ids: list[int] = []
        current: int | None = dept_id
        while current is not None and current in self.rows and current not in ids:
            ids.append(current)
            current = self.rows[current].parent_id
        return ids

    def path(self, dept_id: int) -> list[str]:
        return [self.rows[d].name for d in reversed(self.chain(dept_id))]

    def named(self, name: str) -> int | None:
        """The active department of this name (the oldest, should two share it)."""
        return min((d.id for d in self.rows.values() if d.active and d.name == name),
                   default=None)

    def label(self, dept_id: int | None) -> str:
        """The path without the bureau itself: 刑侦支队/一大队 (the root shows its own name)."""
        if dept_id is None:
            return ""
        names = self.path(dept_id)
        return "/".join(names[1:]) if len(names) > 1 else "".join(names)

    def subtree(self, dept_id: int) -> set[int]:
        """The department and every department below it (empty for an unknown id)."""
        found: set[int] = set()
        if dept_id not in self.rows:
            return found
        stack = [dept_id]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(self.children.get(current, []))
        return found

    def options(self, active_only: bool = True) -> list[dict[str, Any]]:
        """Depth-first list for a <select>: [{id, name, depth, label, active}]."""
        result: list[dict[str, Any]] = []

        def walk(parent: int | None, depth: int) -> None:
            for child in self.children.get(parent, []):
                dept = self.rows[child]
                if active_only and not dept.active:
                    continue
                result.append({"id": dept.id, "name": dept.name, "depth": depth,
                               "label": self.label(dept.id), "active": dept.active})
                walk(child, depth + 1)

        walk(None, 0)
        return result


_kept_index = Kept("org", DepartmentIndex.read)


# ---- helpers for other features -----------------------------------------------------------
def department_subtree_ids(dept_id: int) -> set[int]:
    """The department and every department below it, disabled ones too (empty if unknown)."""
    return DepartmentIndex.load().subtree(dept_id)


def department_path(dept_id: int) -> list[str]:
    """Names from the root down to the department: ["X市公安局", "刑侦支队", "一大队"]."""
    return DepartmentIndex.load().path(dept_id)


def department(dept_id: int) -> Department:
    """A department (disabled ones too) from the kept tree: read it, never change it."""
    found = DepartmentIndex.load().rows.get(dept_id)
    if found is None:
        raise NotFound("部门不存在")
    return found


def department_names(dept_ids: list[int]) -> list[str]:
    """The names of these departments (disabled ones too), in this order, from the kept tree;
    ids no longer there are left out."""
    rows = DepartmentIndex.load().rows
    return [rows[i].name for i in dept_ids if i in rows]


def department_top(dept_id: int) -> Department:
    """The department at the top of this one's tree (the bureau)."""
    index = DepartmentIndex.load()
    chain = index.chain(dept_id)
    if not chain:
        raise NotFound("部门不存在")
    return index.rows[chain[-1]]


def active_department_named(name: str) -> int | None:
    return DepartmentIndex.load().named(name)


_ACTIVE_AMONG = "SELECT id FROM app_user WHERE id = ANY(%s) AND status = 'active'"


def active_among(user_ids: list[int]) -> set[int]:
    """Which of these users are active (one prepared statement, whatever their number)."""
    return {u for (u,) in execute_prepared(_ACTIVE_AMONG, (user_ids,)).fetchall()}


def leader_of(dept_id: int, inherit: bool = True) -> int | None:
    """The active leader's user id of a department; with `inherit`, the nearest department
    above that has one (an 大队 without a leader answers to its 支队's)."""
    index = DepartmentIndex.load()
    chain = index.chain(dept_id)
    candidates = [leader for d in (chain if inherit else chain[:1])
                  if (leader := index.rows[d].leader_id) is not None]
    if not candidates:
        return None
    active = active_among(candidates)
    return next((c for c in candidates if c in active), None)


def deputies_of(dept_id: int) -> list[int]:
    """Active deputy leaders' user ids of a department."""
    query = (DepartmentDeputy.select(DepartmentDeputy.user)
             .join(User).where((DepartmentDeputy.department == dept_id)
                               & (User.status == "active")))
    return [row.user_id for row in query]


# ---- scopes ---------------------------------------------------------------------------------
def scope_departments(ctx: RequestContext, code: str) -> set[int] | None:
    """Departments the actor may act on with `code`; None means all of them."""
    scope = ctx.require(code)
    if scope is Scope.ALL:
        return None
    own = ctx.principal.department_id if ctx.principal else None
    if own is None or scope is Scope.SELF:
        return set()
    return department_subtree_ids(own) if scope is Scope.SUBTREE else {own}


def _check_department_scope(ctx: RequestContext, allowed: set[int] | None, dept_id: int) -> None:
    if allowed is not None and dept_id not in allowed:
        raise PermissionDenied(MANAGE, "您无权管理该部门")


def _check_user_scope(ctx: RequestContext, allowed: set[int] | None, user: User) -> None:
    if allowed is None or user.department_id in allowed:
        return
    if ctx.principal and ctx.principal.scope(MANAGE) is Scope.SELF and ctx.user_id == user.id:
        return
    raise PermissionDenied(MANAGE, "您无权管理该人员")


# ---- departments ----------------------------------------------------------------------------
def _department_or_404(dept_id: int) -> Department:
    dept = Department.get_or_none(Department.id == dept_id)
    if dept is None:
        raise NotFound("部门不存在")
    return dept


def _deputy_map() -> dict[int, list[int]]:
    result: dict[int, list[int]] = {}
    for row in DepartmentDeputy.select().order_by(DepartmentDeputy.user):
        result.setdefault(row.department_id, []).append(row.user_id)
    return result


def _department_dict(dept: Department, index: DepartmentIndex, deputies: list[int],
                     names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": dept.id,
        "name": dept.name,
        "short_name": dept.short_name,
        "doc_code": dept.doc_code,
        "parent_id": dept.parent_id,
        "sort_order": dept.sort_order,
        "active": dept.active,
        "path": index.label(dept.id),
        "leader_id": dept.leader_id,
        "leader_name": names.get(dept.leader_id, "") if dept.leader_id else "",
        "deputy_ids": deputies,
        "deputy_names": [names.get(i, "") for i in deputies],
    }


def department_tree(ctx: RequestContext, include_disabled: bool = False) -> list[dict[str, Any]]:
    """The department tree as nested dicts with `children` and `user_count`. Managers see
    disabled departments too (when asked); staff see the active tree for the address book."""
    if not (ctx.principal and (ctx.principal.can(MANAGE) or ctx.principal.can(ADDRESSBOOK))):
        raise PermissionDenied(ADDRESSBOOK)
    include_disabled = include_disabled and ctx.principal.can(MANAGE)
    index = DepartmentIndex.load()
    deputies = _deputy_map()
    leader_ids = [d.leader_id for d in index.rows.values()]
    names = user_names([*leader_ids, *(u for ids in deputies.values() for u in ids)])
    counts = dict(User.select(User.department, pw.fn.COUNT(User.id))
                  .where(User.status == "active").group_by(User.department).tuples())

    def build(parent: int | None) -> list[dict[str, Any]]:
        nodes = []
        for child in index.children.get(parent, []):
            dept = index.rows[child]
            if not dept.active and not include_disabled:
                continue
            node = _department_dict(dept, index, deputies.get(dept.id, []), names)
            node["user_count"] = counts.get(dept.id, 0)
            node["children"] = build(dept.id)
            nodes.append(node)
        return nodes

    tree = build(None)
    audit(ctx, "org.department.tree", "department", details={"disabled": include_disabled})
    return tree


def department_options(ctx: RequestContext, active_only: bool = True) -> list[dict[str, Any]]:
    """Departments as a flat, indented list for form selects (no audit: labels only)."""
    if not (ctx.principal and (ctx.principal.can(MANAGE) or ctx.principal.can(ADDRESSBOOK))):
        raise PermissionDenied(ADDRESSBOOK)
    return DepartmentIndex.load().options(active_only)


def get_department(ctx: RequestContext, dept_id: int) -> dict[str, Any]:
    allowed = scope_departments(ctx, MANAGE)
    dept = _department_or_404(dept_id)
    _check_department_scope(ctx, allowed, dept.id)
    index = DepartmentIndex.load()
    deputies = deputies_of_all(dept.id)
    names = user_names([dept.leader_id, *deputies])
    result = _department_dict(dept, index, deputies, names)
    result["children"] = [index.rows[c].name for c in index.children.get(dept.id, [])]
    result["user_count"] = User.select().where((User.department == dept.id)
                                               & (User.status == "active")).count()
    audit(ctx, "org.department.read", "department", dept.id)
    return result


def deputies_of_all(dept_id: int) -> list[int]:
    return [row.user_id for row in DepartmentDeputy.select()
            .where(DepartmentDeputy.department == dept_id).order_by(DepartmentDeputy.user)]


def leader_candidates(ctx: RequestContext, dept_id: int) -> list[dict[str, Any]]:
    """Active users of the department and below, for the leader and deputy selects."""
    ctx.require(MANAGE)
    ids = department_subtree_ids(dept_id)
    query = (User.select(User.id, User.name, User.department).where(
        (User.status == "active") & (User.department << ids)).order_by(User.sort_order, User.id))
    index = DepartmentIndex.load()
    return [{"id": u.id, "name": u.name, "department": index.label(u.department_id)}
            for u in query]


def _check_sibling_name(name: str, parent_id: int | None, own_id: int | None) -> str | None:
    query = Department.select().where(Department.name == name)
    query = query.where(Department.parent.is_null() if parent_id is None
                        else Department.parent == parent_id)
    if own_id is not None:
        query = query.where(Department.id != own_id)
    return "同一上级部门下已有同名部门" if query.exists() else None


def _check_leaders(data: dict[str, Any], errors: dict[str, str]) -> None:
    leader_id = data.get("leader_id")
    deputies = data.get("deputy_ids") or []
    wanted = {i for i in [leader_id, *deputies] if i is not None}
    active = active_among(list(wanted)) if wanted else set()
    if leader_id is not None and leader_id not in active:
        errors["leader_id"] = "部门负责人必须是在职人员"
    if any(d not in active for d in deputies):
        errors["deputy_ids"] = "副职领导必须是在职人员"
    elif leader_id is not None and leader_id in deputies:
        errors["deputy_ids"] = "部门负责人不能同时列为副职领导"


def _parent_error(parent_id: int | None, allowed: set[int] | None) -> str | None:
    if parent_id is None:
        if allowed is not None:
            return "请选择上级部门"
        return "已有根部门，请选择上级部门" if Department.select().where(
            Department.parent.is_null()).exists() else None
    parent = Department.get_or_none(Department.id == parent_id)
    if parent is None:
        return "上级部门不存在"
    if not parent.active:
        return "上级部门已停用"
    if allowed is not None and parent.id not in allowed:
        return "您无权在该部门下建立部门"
    return None


def _save_deputies(dept_id: int, deputies: list[int]) -> None:
    DepartmentDeputy.delete().where(DepartmentDeputy.department == dept_id).execute()
    for user_id in deputies:
        DepartmentDeputy.insert(department=dept_id, user=user_id).execute()


def create_department(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    allowed = scope_departments(ctx, MANAGE)
    data, errors = clean_each(DEPARTMENT_SCHEMA, raw)
    if "parent_id" not in errors and (message := _parent_error(data.get("parent_id"), allowed)):
        errors["parent_id"] = message
    if "name" not in errors and "parent_id" not in errors and (
        message := _check_sibling_name(data["name"], data.get("parent_id"), None)
    ):
        errors["name"] = message
    _check_leaders(data, errors)
    if errors:
        raise ValidationError(errors)
    now = _now()
    dept = Department.create(
        parent=data.get("parent_id"), name=data["name"], short_name=data["short_name"],
        doc_code=data["doc_code"], sort_order=data["sort_order"], leader_id=data.get("leader_id"),
        active=True, created_at=now, updated_at=now,
    )
    _save_deputies(dept.id, data["deputy_ids"])
    audit(ctx, "org.department.create", "department", dept.id,
          {"name": dept.name, "parent_id": dept.parent_id, "doc_code": dept.doc_code})
    return {"id": dept.id, "name": dept.name}


def update_department(ctx: RequestContext, dept_id: int, raw: Mapping[str, Any],
                      partial: bool = False) -> dict[str, Any]:
    """Edit a department's name, 机关代字, order, leaders and (when `parent_id` changes)
    its place in the tree."""
    allowed = scope_departments(ctx, MANAGE)
    dept = _department_or_404(dept_id)
    _check_department_scope(ctx, allowed, dept.id)
    data, errors = clean_each(DEPARTMENT_SCHEMA, raw, partial=partial)
    moving = "parent_id" in data and data["parent_id"] != dept.parent_id
    if moving and "parent_id" not in errors and (
        message := _move_error(dept, data["parent_id"], allowed)
    ):
        errors["parent_id"] = message
    new_parent = data["parent_id"] if moving else dept.parent_id
    new_name = data.get("name", dept.name)
    if "name" not in errors and "parent_id" not in errors and (
        message := _check_sibling_name(new_name, new_parent, dept.id)
    ):
        errors["name"] = message
    if "leader_id" in data or "deputy_ids" in data:
        _check_leaders({"leader_id": data.get("leader_id", dept.leader_id),
                        "deputy_ids": data.get("deputy_ids", deputies_of_all(dept.id))}, errors)
    if errors:
        raise ValidationError(errors)
    changes: dict[str, Any] = {}
    for name in ("name", "short_name", "doc_code", "sort_order", "leader_id"):
        if name in data and getattr(dept, name) != data[name]:
            changes[name] = [getattr(dept, name), data[name]]
            setattr(dept, name, data[name])
    if moving:
        changes["parent_id"] = [dept.parent_id, new_parent]
        dept.parent = new_parent
    dept.updated_at = _now()
    dept.save()
    if "deputy_ids" in data:
        before = deputies_of_all(dept.id)
        if sorted(before) != sorted(data["deputy_ids"]):
            changes["deputy_ids"] = [before, data["deputy_ids"]]
            _save_deputies(dept.id, data["deputy_ids"])
    audit(ctx, "org.department.update", "department", dept.id, {"changes": changes})
    return {"id": dept.id, "name": dept.name}


_TREE_LOCK = 7_201_127  # pg_advisory_xact_lock key: one department move at a time


def _move_error(dept: Department, parent_id: int | None, allowed: set[int] | None) -> str | None:
    # Two concurrent moves (A under B, B under A) would each pass the cycle check alone;
    # serialising moves makes the check see the other's result.
    database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_TREE_LOCK,))
    if parent_id is None:
        return "请选择新的上级部门"
    if parent_id in department_subtree_ids(dept.id):
        return "不能把部门移动到它自己或它的下级部门之下"
    return _parent_error(parent_id, allowed)


def move_department(ctx: RequestContext, dept_id: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    allowed = scope_departments(ctx, MANAGE)
    dept = _department_or_404(dept_id)
    _check_department_scope(ctx, allowed, dept.id)
    data = MOVE_SCHEMA.validate(raw)
    if data["parent_id"] == dept.parent_id:
        return {"id": dept.id, "name": dept.name}
    errors: dict[str, str] = {}
    if message := _move_error(dept, data["parent_id"], allowed):
        errors["parent_id"] = message
    elif message := _check_sibling_name(dept.name, data["parent_id"], dept.id):
        errors["parent_id"] = "新的上级部门下已有同名部门"
    if errors:
        raise ValidationError(errors)
    old_parent = dept.parent_id
    dept.parent = data["parent_id"]
    dept.updated_at = _now()
    dept.save()
    audit(ctx, "org.department.move", "department", dept.id,
          {"from": old_parent, "to": data["parent_id"]})
    return {"id": dept.id, "name": dept.name}


def disable_department(ctx: RequestContext, dept_id: int) -> None:
    allowed = scope_departments(ctx, MANAGE)
    dept = _department_or_404(dept_id)
    _check_department_scope(ctx, allowed, dept.id)
    if not dept.active:
        return
    users = User.select().where((User.department == dept.id) & (User.status == "active")).count()
    children = Department.select().where((Department.parent == dept.id)
                                         & Department.active).count()
    problems = []
    if users:
        problems.append(f"还有 {users} 名在职人员，请先调出或停用这些人员")
    if children:
        problems.append(f"还有 {children} 个启用中的下级部门，请先停用或移走下级部门")
    if problems:
        raise ValidationError(message=f"不能停用“{dept.name}”：" + "；".join(problems))
    dept.active = False
    dept.updated_at = _now()
    dept.save()
    audit(ctx, "org.department.disable", "department", dept.id, {"name": dept.name})


def enable_department(ctx: RequestContext, dept_id: int) -> None:
    allowed = scope_departments(ctx, MANAGE)
    dept = _department_or_404(dept_id)
    _check_department_scope(ctx, allowed, dept.id)
    if dept.active:
        return
    if dept.parent_id is not None and not _department_or_404(dept.parent_id).active:
        raise ValidationError(message=f"不能启用“{dept.name}”：上级部门已停用，请先启用上级部门")
    dept.active = True
    dept.updated_at = _now()
    dept.save()
    audit(ctx, "org.department.enable", "department", dept.id, {"name": dept.name})


# ---- positions ------------------------------------------------------------------------------
def _position_dict(position: Position, user_count: int = 0) -> dict[str, Any]:
    return {"id": position.id, "name": position.name, "rank": position.rank,
            "is_leader": position.is_leader, "user_count": user_count}


def list_positions(ctx: RequestContext, audited: bool = True) -> list[dict[str, Any]]:
    ctx.require(MANAGE)
    counts = dict(User.select(User.position, pw.fn.COUNT(User.id))
                  .where(User.position.is_null(False)).group_by(User.position).tuples())
    rows = [_position_dict(p, counts.get(p.id, 0))
            for p in Position.select().order_by(Position.rank, Position.id)]
    if audited:
        audit(ctx, "org.position.list", "position")
    return rows


def _position_or_404(position_id: int) -> Position:
    position = Position.get_or_none(Position.id == position_id)
    if position is None:
        raise NotFound("职务不存在")
    return position


def get_position(ctx: RequestContext, position_id: int) -> dict[str, Any]:
    ctx.require(MANAGE)
    position = _position_or_404(position_id)
    audit(ctx, "org.position.read", "position", position.id)
    return _position_dict(position)


def _position_name_error(name: str, own_id: int | None) -> str | None:
    query = Position.select().where(Position.name == name)
    if own_id is not None:
        query = query.where(Position.id != own_id)
    return "已有同名职务" if query.exists() else None


def create_position(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    ctx.require(MANAGE, Scope.ALL)
    data, errors = clean_each(POSITION_SCHEMA, raw)
    if "name" not in errors and (message := _position_name_error(data["name"], None)):
        errors["name"] = message
    if errors:
        raise ValidationError(errors)
    position = Position.create(**data)
    audit(ctx, "org.position.create", "position", position.id, data)
    return _position_dict(position)


def update_position(ctx: RequestContext, position_id: int,
                    raw: Mapping[str, Any]) -> dict[str, Any]:
    ctx.require(MANAGE, Scope.ALL)
    position = _position_or_404(position_id)
    data, errors = clean_each(POSITION_SCHEMA, raw)
    if "name" not in errors and (message := _position_name_error(data["name"], position.id)):
        errors["name"] = message
    if errors:
        raise ValidationError(errors)
    changes = {k: [getattr(position, k), v] for k, v in data.items() if getattr(position, k) != v}
    for key, value in data.items():
        setattr(position, key, value)
    position.save()
    audit(ctx, "org.position.update", "position", position.id, {"changes": changes})
    return _position_dict(position)


def delete_position(ctx: RequestContext, position_id: int) -> None:
    ctx.require(MANAGE, Scope.ALL)
    position = _position_or_404(position_id)
    in_use = User.select().where(User.position == position.id).count()
    if in_use:
        raise ValidationError(
            message=f"不能删除职务“{position.name}”：还有 {in_use} 名人员担任此职务")
    position.delete_instance()
    audit(ctx, "org.position.delete", "position", position_id, {"name": position.name})


# ---- users ----------------------------------------------------------------------------------
def _user_or_404(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("人员不存在")
    return user


def _secondary_ids(user_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(user_ids)
    result: dict[int, list[int]] = {}
    if not ids:
        return result
    query = (UserDepartment.select().where(UserDepartment.user << ids)
             .order_by(UserDepartment.department))
    for row in query:
        result.setdefault(row.user_id, []).append(row.department_id)
    return result


def _read_position_names() -> dict[int, str]:
    return dict(Position.select(Position.id, Position.name).tuples())


_kept_positions = Kept("org", _read_position_names)


def _position_names() -> dict[int, str]:
    """Position names by id, kept like the department tree (read-only)."""
    return _kept_positions.get()


def user_dict(user: User, index: DepartmentIndex, positions: dict[int, str],
              secondary: list[int]) -> dict[str, Any]:
    """A user's full record, for administrators and for the user themself."""
    return {
        "id": user.id,
        "username": user.username,
        "employee_no": user.employee_no,
        "name": user.name,
        "name_pinyin": user.name_pinyin,
        "name_initials": user.name_initials,
        "department_id": user.department_id,
        "department": index.label(user.department_id),
        "secondary_department_ids": secondary,
        "secondary_departments": [index.label(d) for d in secondary],
        "position_id": user.position_id,
        "position": positions.get(user.position_id, "") if user.position_id else "",
        "phone": user.phone,
        "office_phone": user.office_phone,
        "email": user.email,
        "clearance": user.clearance,
        "clearance_title": CLEARANCE_TITLES.get(user.clearance, ""),
        "status": user.status,
        "status_title": STATUS_TITLES.get(user.status, user.status),
        "sort_order": user.sort_order,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


_ADDRESSBOOK_COLUMNS = (User.id, User.name, User.department, User.position, User.office_phone,
                      User.phone, User.email)  # what addressbook_entry reads, no more


def addressbook_entry(user: User, index: DepartmentIndex,
                      positions: dict[int, str]) -> dict[str, Any]:
    """What every colleague may see of a person: no 工号, 密级, status or username."""
    return {
        "id": user.id,
        "name": user.name,
        "department_id": user.department_id,
        "department": index.label(user.department_id),
        "position": positions.get(user.position_id, "") if user.position_id else "",
        "office_phone": user.office_phone,
        "phone": user.phone,
        "email": user.email,
    }


# The search's arms, each served by an index, so PostgreSQL ORs index scans instead of reading
# every user. Written as SQL fragments: peewee made the same condition from an expression tree
# of some thirty nodes, twice a search (its page and its count), 4 % of the mixed load's CPU
# (bench/README.md, finding 62). Columns unqualified: the queries they go into read app_user
# alone. A name contains the text, any case, through the per-character GIN index (org
# migration 0004): most Chinese searches are one or two characters, too short for trigrams,
# so the index finds the names holding every character and strpos keeps those holding them in
# order; a username prefix; the 工号 exactly.
_NAME_USERNAME_NUMBER = ("(string_to_array(lower(name), NULL) @> %s::text[]"
                         " AND strpos(lower(name), %s) > 0)"
                         " OR lower(username) LIKE %s OR employee_no = %s")
_PINYIN_PREFIX = " OR name_initials LIKE %s OR name_pinyin LIKE %s"
_DEPARTMENT_AMONG = " OR department_id = ANY(%s)"


def _text_filter(q: str, index: DepartmentIndex) -> pw.SQL | None:
    """Name (any part), username or pinyin (prefix), 工号 (exact) or department name (with its
    sub-departments)."""
    q = q.strip()
    if not q:
        return None
    lowered = q.lower()
    sql = _NAME_USERNAME_NUMBER
    params: list[Any] = [sorted(set(lowered)), lowered, like_prefix(lowered), q]
    ascii_q = "".join(ch for ch in lowered if ch.isascii() and ch.isalnum())
    if ascii_q and ascii_q == lowered.replace(" ", ""):
        sql += _PINYIN_PREFIX
        params += [like_prefix(ascii_q)] * 2
    matching_departments = {d.id for d in index.rows.values() if q in d.name and d.active}
    if matching_departments:
        subtree: set[int] = set()
        for dept_id in matching_departments:
            subtree |= index.subtree(dept_id)
        sql += _DEPARTMENT_AMONG
        params.append(sorted(subtree))
    return pw.SQL(f"({sql})", params)


def _in_departments(ids: set[int]) -> pw.Expression:
    secondary = UserDepartment.select(UserDepartment.user).where(UserDepartment.department << ids)
    return (User.department << ids) | (User.id << secondary)


def _paginate(query: pw.ModelSelect, page: int,
              per_page: int) -> tuple[list[User], dict[str, Any]]:
    rows, total = paginated(query, page, per_page)
    pages = max(1, math.ceil(total / per_page))
    return rows, {"total": total, "page": page, "per_page": per_page, "pages": pages}


def list_users(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Administrators' user list: search (name, pinyin, username, 工号), department (with
    sub-departments), position, status; paginated."""
    allowed = scope_departments(ctx, MANAGE)
    params = USER_QUERY.validate(raw)
    index = DepartmentIndex.load()
    query = User.select()
    if (condition := _text_filter(params["q"], index)) is not None:
        query = query.where(condition)
    if params.get("department"):
        query = query.where(_in_departments(index.subtree(params["department"])))
    if params.get("position"):
        query = query.where(User.position == params["position"])
    if params["status"]:
        query = query.where(User.status == params["status"])
    if allowed is not None:
        query = query.where(User.department << (allowed or {0}))
    query = query.order_by(User.employee_no, User.id)
    rows, page = _paginate(query, params["page"], params["per_page"])
    positions = _position_names()
    secondary = _secondary_ids(u.id for u in rows)
    items = [user_dict(u, index, positions, secondary.get(u.id, [])) for u in rows]
    audit(ctx, "org.user.list", "user", details={"query": {k: v for k, v in params.items()
                                                           if v not in (None, "")},
                                                 "count": len(items)})
    return {"items": items, **page}


def get_user(ctx: RequestContext, user_id: int) -> dict[str, Any]:
    """A user as the actor may see them: the full record for an administrator in scope or for
    the user themself; the address-book entry for a colleague; otherwise refused."""
    if ctx.principal is None:
        raise PermissionDenied(ADDRESSBOOK)
    user = _user_or_404(user_id)
    index = DepartmentIndex.load()
    positions = _position_names()
    if ctx.user_id == user.id or (ctx.principal.can(MANAGE) and _manages(ctx, user)):
        audit(ctx, "org.user.read", "user", user.id)
        return user_dict(user, index, positions, _secondary_ids([user.id]).get(user.id, []))
    ctx.require(ADDRESSBOOK)
    if user.status != "active":
        raise NotFound("人员不存在")
    audit(ctx, "org.addressbook.read", "user", user.id)
    return addressbook_entry(user, index, positions)


def _manages(ctx: RequestContext, user: User) -> bool:
    try:
        _check_user_scope(ctx, scope_departments(ctx, MANAGE), user)
    except PermissionDenied:
        return False
    return True


def get_user_for_edit(ctx: RequestContext, user_id: int) -> dict[str, Any]:
    """The full record for the administrators' edit page (refused outside their scope)."""
    allowed = scope_departments(ctx, MANAGE)
    user = _user_or_404(user_id)
    _check_user_scope(ctx, allowed, user)
    audit(ctx, "org.user.read", "user", user.id)
    return user_dict(user, DepartmentIndex.load(), _position_names(),
                     _secondary_ids([user.id]).get(user.id, []))


def _normalise_user_input(raw: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError(message="请求内容应为 JSON 对象")
    data = dict(raw)
    if isinstance(data.get("username"), str):
        data["username"] = data["username"].strip().lower()
    return data


def username_taken(username: str, own_id: int | None = None) -> bool:
    query = User.select().where(pw.fn.lower(User.username) == username.lower())
    if own_id is not None:
        query = query.where(User.id != own_id)
    return query.exists()


def employee_no_taken(employee_no: str, own_id: int | None = None) -> bool:
    query = User.select().where(User.employee_no == employee_no)
    if own_id is not None:
        query = query.where(User.id != own_id)
    return query.exists()


def check_user_fields(data: dict[str, Any], errors: dict[str, str], own_id: int | None,
                       allowed: set[int] | None) -> None:
    """Checks against the database: uniqueness, existence, departments in scope."""
    if "username" in data and "username" not in errors and username_taken(data["username"],
                                                                            own_id):
        errors["username"] = f"用户名“{data['username']}”已被使用（不区分大小写）"
    if "employee_no" in data and "employee_no" not in errors and employee_no_taken(
            data["employee_no"], own_id):
        errors["employee_no"] = f"工号“{data['employee_no']}”已被使用"
    if data.get("department_id") is not None and "department_id" not in errors:
        dept = Department.get_or_none(Department.id == data["department_id"])
        if dept is None:
            errors["department_id"] = "所选部门不存在"
        elif not dept.active:
            errors["department_id"] = f"部门“{dept.name}”已停用，不能调入人员"
        elif allowed is not None and dept.id not in allowed:
            errors["department_id"] = "您无权管理该部门的人员"
    if data.get("position_id") is not None and "position_id" not in errors and (
            Position.get_or_none(Position.id == data["position_id"]) is None):
        errors["position_id"] = "所选职务不存在"
    secondary = data.get("secondary_department_ids") or []
    if secondary and "secondary_department_ids" not in errors:
        found = {d.id: d for d in Department.select().where(Department.id << secondary)}
        if len(found) != len(set(secondary)):
            errors["secondary_department_ids"] = "所选兼职部门不存在"
        elif any(not d.active for d in found.values()):
            errors["secondary_department_ids"] = "兼职部门中有已停用的部门"


def _save_secondary(user_id: int, primary: int, secondary: list[int]) -> None:
    UserDepartment.delete().where(UserDepartment.user == user_id).execute()
    for dept_id in secondary:
        if dept_id != primary:
            UserDepartment.insert(user=user_id, department=dept_id).execute()


def insert_user(ctx: RequestContext, data: dict[str, Any]) -> User:
    full, initials = name_pinyin(data["name"])
    now = _now()
    try:
        with database.atomic():  # a savepoint: a lost race on a unique index is a 400
            user = User.create(
                username=data["username"], employee_no=data["employee_no"], name=data["name"],
                name_pinyin=full, name_initials=initials, department=data["department_id"],
                position=data.get("position_id"), phone=data.get("phone") or "",
                office_phone=data.get("office_phone") or "", email=data.get("email") or "",
                clearance=data.get("clearance") or 0, status=data.get("status") or "active",
                sort_order=data.get("sort_order") or 0, created_at=now, updated_at=now,
            )
    except pw.IntegrityError:
        raise ValidationError({"username": "用户名或工号已被使用"}) from None
    _save_secondary(user.id, user.department_id, data.get("secondary_department_ids") or [])
    events.publish(events.USER_CREATED, ctx, user_id=user.id)
    return user


def create_user(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    allowed = scope_departments(ctx, MANAGE)
    data, errors = clean_each(USER_SCHEMA, _normalise_user_input(raw))
    check_user_fields(data, errors, None, allowed)
    if errors:
        raise ValidationError(errors)
    user = insert_user(ctx, data)
    audit(ctx, "org.user.create", "user", user.id,
          {"username": user.username, "employee_no": user.employee_no,
           "department_id": user.department_id})
    return user_dict(user, DepartmentIndex.load(), _position_names(),
                     _secondary_ids([user.id]).get(user.id, []))


_USER_COLUMNS = {"username": "username", "employee_no": "employee_no", "name": "name",
                 "department_id": "department_id", "position_id": "position_id",
                 "phone": "phone", "office_phone": "office_phone", "email": "email",
                 "clearance": "clearance", "status": "status", "sort_order": "sort_order"}


def update_user(ctx: RequestContext, user_id: int, raw: Mapping[str, Any],
                partial: bool = True) -> dict[str, Any]:
    """Edit a user; with `partial`, fields absent from `raw` stay as they are (PATCH)."""
    allowed = scope_departments(ctx, MANAGE)
    user = _user_or_404(user_id)
    _check_user_scope(ctx, allowed, user)
    data, errors = clean_each(USER_SCHEMA, _normalise_user_input(raw), partial=partial)
    # staying in the same department is not a move into another scope
    staying = data.get("department_id") == user.department_id
    check_user_fields(data, errors, user.id, None if staying else allowed)
    if data.get("status") == "disabled" and user.id == ctx.user_id:
        errors["status"] = "不能停用自己的账号"
    if errors:
        raise ValidationError(errors)
    changes: dict[str, Any] = {}
    for key, column in _USER_COLUMNS.items():
        if key in data and getattr(user, column) != data[key]:
            changes[key] = [getattr(user, column), data[key]]
            setattr(user, column, data[key])
    if "name" in changes:
        user.name_pinyin, user.name_initials = name_pinyin(user.name)
    user.updated_at = _now()
    try:
        with database.atomic():
            user.save()
    except pw.IntegrityError:
        raise ValidationError({"username": "用户名或工号已被使用"}) from None
    if "secondary_department_ids" in data or "department_id" in changes:
        before = _secondary_ids([user.id]).get(user.id, [])
        wanted = data.get("secondary_department_ids", before)
        wanted = [d for d in wanted if d != user.department_id]
        if sorted(before) != sorted(wanted):
            changes["secondary_department_ids"] = [before, wanted]
        _save_secondary(user.id, user.department_id, wanted)
    audit(ctx, "org.user.update", "user", user.id, {"changes": changes})
    return user_dict(user, DepartmentIndex.load(), _position_names(),
                     _secondary_ids([user.id]).get(user.id, []))


def set_user_status(ctx: RequestContext, user_id: int, status: str) -> None:
    if status not in STATUS_TITLES:
        raise ValidationError({"status": "状态只能是：在职、停用"})
    allowed = scope_departments(ctx, MANAGE)
    user = _user_or_404(user_id)
    _check_user_scope(ctx, allowed, user)
    if status == "disabled" and user.id == ctx.user_id:
        raise ValidationError(message="不能停用自己的账号")
    if user.status == status:
        return
    if status == "active" and not _department_or_404(user.department_id).active:
        raise ValidationError(message="该人员所在部门已停用，请先把人员调到启用中的部门")
    user.status = status
    user.updated_at = _now()
    user.save()
    action = "org.user.enable" if status == "active" else "org.user.disable"
    audit(ctx, action, "user", user.id, {"username": user.username})


def user_form_options(ctx: RequestContext) -> dict[str, Any]:
    """Select options for the user form: departments (in scope) and positions."""
    allowed = scope_departments(ctx, MANAGE)
    departments = DepartmentIndex.load().options()
    if allowed is not None:
        departments = [d for d in departments if d["id"] in allowed]
    positions = [{"id": p.id, "name": p.name}
                 for p in Position.select().order_by(Position.rank, Position.id)]
    return {"departments": departments, "positions": positions}


# ---- the address book ---------------------------------------------------------------------
def addressbook(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Search colleagues by name, pinyin initials (zs -> 张三), full pinyin prefix, or
    department (with its sub-departments). Disabled users are never listed.

    The address book is the whole bureau's directory: the permission's data scope does not
    narrow it (the staff role grants business permissions at department scope, and a
    directory of one's own department alone would defeat its purpose)."""
    ctx.require(ADDRESSBOOK)
    params = ADDRESSBOOK_QUERY.validate(raw)
    index = DepartmentIndex.load()
    query = User.select(*_ADDRESSBOOK_COLUMNS).where(User.status == "active")
    if (condition := _text_filter(params["q"], index)) is not None:
        query = query.where(condition)
    if params.get("department"):
        query = query.where(_in_departments(index.subtree(params["department"])))
    query = query.order_by(User.employee_no, User.id)
    rows, page = _paginate(query, params["page"], params["per_page"])
    positions = _position_names()
    items = [addressbook_entry(u, index, positions) for u in rows]
    audit(ctx, "org.addressbook.search", "user",
          details={"q": params["q"], "department": params.get("department"),
                   "count": len(items)})
    return {"items": items, **page}
