"""Demo data of the bureau (demo_data.yaml): departments, positions and about 60 people.

Idempotent: what exists (a department by parent and name, a position by name, a person by
工号) is neither duplicated nor overwritten. Passwords and roles come from the auth feature's
demo, which runs after this one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from app.core.context import SYSTEM_CONTEXT
from app.core.db import database
from app.org import service
from app.org.models import Department, DepartmentDeputy, Position, User
from app.org.names import name_pinyin, username_base

DATA_FILE = Path(__file__).resolve().parent / "demo_data.yaml"
MAIL_DOMAIN = "gaj.x.gov.cn"


def demo_data() -> dict[str, Any]:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def load_demo() -> None:
    with database.atomic():
        data = demo_data()
        positions = _ensure_positions(data["positions"])
        counts = {"departments": 0, "users": 0}
        _ensure_department(data["root"], None, positions, counts, sort_order=0)
        service.audit(SYSTEM_CONTEXT, "org.demo.load", "department", details=counts)


def _ensure_positions(spec: dict[str, list[Any]]) -> dict[str, int]:
    for name, (rank, is_leader) in spec.items():
        if not Position.select().where(Position.name == name).exists():
            Position.create(name=name, rank=rank, is_leader=is_leader)
    return dict(Position.select(Position.name, Position.id).tuples())


def _ensure_department(spec: dict[str, Any], parent_id: int | None, positions: dict[str, int],
                       counts: dict[str, int], sort_order: int) -> None:
    parent_match = Department.parent.is_null() if parent_id is None else (
        Department.parent == parent_id)
    dept = Department.get_or_none((Department.name == spec["name"]) & parent_match)
    if dept is None:
        now = dt.datetime.now(dt.UTC)
        dept = Department.create(parent=parent_id, name=spec["name"],
                                 short_name=spec.get("short_name", ""),
                                 doc_code=spec.get("doc_code", ""), sort_order=sort_order,
                                 active=True, created_at=now, updated_at=now)
        counts["departments"] += 1
    for order, line in enumerate(spec.get("people", []), start=1):
        _ensure_person(line, dept.id, positions, counts, order)
    _assign_leaders(dept, spec)
    for order, child in enumerate(spec.get("children", []), start=1):
        _ensure_department(child, dept.id, positions, counts, sort_order=order * 10)


def _ensure_person(line: str, dept_id: int, positions: dict[str, int], counts: dict[str, int],
                   order: int) -> None:
    employee_no, name, position = line.split()
    if User.select().where(User.employee_no == employee_no).exists():
        return
    stem = username_base(name)
    username, suffix = stem, 1
    while service.username_taken(username):
        suffix += 1
        username = f"{stem}{suffix}"
    full, initials = name_pinyin(name)
    now = dt.datetime.now(dt.UTC)
    User.create(
        username=username, employee_no=employee_no, name=name, name_pinyin=full,
        name_initials=initials, department=dept_id, position=positions[position],
        phone=f"139{int(employee_no):08d}", office_phone=f"0571-8700{employee_no[-4:]}",
        email=f"{username}@{MAIL_DOMAIN}", clearance=_clearance(position), status="active",
        sort_order=order, created_at=now, updated_at=now,
    )
    counts["users"] += 1


def _clearance(position: str) -> int:
    """Leaders handle 机密 papers, the 局 leadership 绝密; staff 秘密; auxiliary police none."""
    if position in {"局长", "政委", "副局长"}:
        return 3
    if position == "辅警":
        return 0
    return 2 if Position.get(Position.name == position).is_leader else 1


def _user_id(employee_no: str) -> int:
    return User.get(User.employee_no == employee_no).id


def _assign_leaders(dept: Department, spec: dict[str, Any]) -> None:
    if dept.leader_id is None and spec.get("leader"):
        dept.leader_id = _user_id(spec["leader"])
        dept.save()
    has_deputies = DepartmentDeputy.select().where(DepartmentDeputy.department == dept.id).exists()
    if not has_deputies:
        for employee_no in spec.get("deputies", []):
            DepartmentDeputy.insert(department=dept.id, user=_user_id(employee_no)).execute()
