"""Fixtures of the workflow tests: a small bureau, contexts per person, flows from YAML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from app.core.context import SYSTEM_CONTEXT, Principal, RequestContext
from app.core.db import run_in_transaction
from app.core.features import Scope
from app.org.models import Department, User
from app.workflow import design, engine, service
from app.workflow.models import Task
from tests.support.accounts import make_user


def ctx_of(user: User, permissions: dict[str, Scope] | None = None,
           ip: str = "10.0.0.8") -> RequestContext:
    principal = Principal(user_id=user.id, username=user.username, name=user.name,
                          department_id=user.department_id, session_id="test",
                          permissions=dict(permissions or {}))
    return RequestContext(principal=principal, ip=ip, request_id="test-request")


def tx(fn, *args, **kwargs):
    return run_in_transaction(fn, *args, **kwargs)


def install(yaml_text: str) -> int:
    return tx(lambda: design.install(yaml_text, SYSTEM_CONTEXT).id)


@dataclass
class Bureau:
    office: Department
    legal: Department
    drafter: User
    leader: User
    chief: User
    a: User
    b: User
    c: User
    outsider: User

    def ctx(self, name: str, **kwargs: Any) -> RequestContext:
        return ctx_of(getattr(self, name), **kwargs)


def _department(name: str, parent: Department | None = None) -> Department:
    now = dt.datetime.now(dt.UTC)
    return tx(lambda: Department.create(name=name, parent=parent, created_at=now,
                                        updated_at=now))


def _set_leader(dept: Department, user: User) -> None:
    tx(lambda: Department.update(leader_id=user.id).where(Department.id == dept.id).execute())


@pytest.fixture
def bureau(db) -> Bureau:
    root = _department("X市公安局")
    office = _department("办公室", root)
    legal = _department("法制支队", root)
    chief = make_user("chief", name="局长", department=root)
    _set_leader(root, chief)
    leader = make_user("leader", name="主任", department=office)
    _set_leader(office, leader)
    drafter = make_user("drafter", name="拟稿人", department=office)
    a = make_user("usera", name="甲", department=office)
    b = make_user("userb", name="乙", department=legal)
    c = make_user("userc", name="丙", department=legal)
    _set_leader(legal, b)
    outsider = make_user("outsider", name="局外人", department=legal)
    return Bureau(office, legal, drafter, leader, chief, a, b, c, outsider)


def open_tasks(instance_id: int, user: User | None = None) -> list[Task]:
    def load() -> list[Task]:
        query = Task.select().where((Task.instance_id == instance_id)
                                    & (Task.status == "open")).order_by(Task.id)
        if user is not None:
            query = query.where(Task.assignee_id == user.id)
        return list(query)

    return tx(load)


def the_task(instance_id: int, user: User) -> int:
    tasks = open_tasks(instance_id, user)
    assert len(tasks) == 1, f"{user.username} has {len(tasks)} open tasks"
    return tasks[0].id


def start(bureau: Bureau, code: str, who: str = "drafter", **kwargs: Any) -> int:
    kwargs.setdefault("title", "关于测试的请示")
    result = tx(engine.start, bureau.ctx(who), code, **kwargs)
    return result["instance_id"]


def instance(instance_id: int):
    from app.workflow.models import Instance

    return tx(lambda: Instance.get_by_id(instance_id))


def todo_ids(bureau: Bureau, who: str) -> list[int]:
    return [i["task_id"] for i in tx(service.todo_list, bureau.ctx(who), {})["items"]]


def user_ids(*users: User) -> str:
    return ", ".join(str(u.id) for u in users)
