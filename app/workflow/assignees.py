"""Who handles a node: a task node's handler rule resolved to active users, in order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.auth.models import Role, UserRole
from app.core.sql import Compiled
from app.org.models import User, UserDepartment
from app.org.service import active_among, department, leader_of


def _active(ids: Iterable[int]) -> list[int]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    active = active_among(wanted)
    return [i for i in wanted if i in active]


def _ordered(query) -> list[int]:
    return [u.id for u in query.where(User.status == "active").order_by(User.sort_order, User.id)]


_DEPARTMENT_OF = Compiled(lambda user: User.select(User.department).where(User.id == user),
                          user=int)


def own_leader(user_id: int) -> int | None:
    """The active leader of the user's department; a leader's own leader is the one above."""
    dept_id = _DEPARTMENT_OF.scalar(user=user_id)
    if dept_id is None:
        return None
    leader = leader_of(dept_id)
    if leader == user_id:
        parent = department(dept_id).parent_id
        leader = leader_of(parent) if parent else None
    return leader


def _ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    result: list[int] = []
    for item in items:
        try:
            result.append(int(item))
        except (TypeError, ValueError):
            continue
    return result


def resolve(rule: dict[str, Any], *, initiator_id: int, initiator_dept_id: int | None,
            previous_actor_id: int | None, form: dict[str, Any]) -> list[int]:
    kind = rule.get("kind")
    if kind == "user":
        return _active(rule.get("users", []))
    if kind == "role":
        query = (User.select(User.id).join(UserRole, on=(UserRole.user == User.id))
                 .join(Role, on=(Role.id == UserRole.role)).where(Role.code == rule.get("role")))
        return _ordered(query)
    if kind == "position":
        query = User.select(User.id).where(User.position == rule.get("position"))
        if rule.get("scope") == "initiator_department":
            query = query.where(User.department == initiator_dept_id)
        return _ordered(query)
    if kind == "department":
        dept = rule.get("department")
        secondary = UserDepartment.select(UserDepartment.user).where(
            UserDepartment.department == dept)
        return _ordered(User.select(User.id).where((User.department == dept)
                                                   | User.id.in_(secondary)))
    if kind == "initiator_leader":
        leader = own_leader(initiator_id)
        return [leader] if leader else []
    if kind == "previous_leader":
        leader = own_leader(previous_actor_id or initiator_id)
        return [leader] if leader else []
    if kind == "form_field":
        values = _ids(form.get(rule.get("field"), []))
        if rule.get("target") == "department_leaders":
            return _active(x for d in values if (x := leader_of(d)))
        return _active(values)
    return []
