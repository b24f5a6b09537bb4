"""A bureau for the 公文 flow tests and helpers to act on tasks as a person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.auth.models import Role, UserRole
from app.core.db import run_in_transaction
from app.documents import flow
from app.org.models import Department, DepartmentDeputy, User
from app.workflow import engine, service
from app.workflow.models import Task
from tests.support.accounts import ctx_for, make_user


def tx(fn, *args, **kwargs):
    return run_in_transaction(fn, *args, **kwargs)


def _dept(name: str, parent: Department | None, doc_code: str = "") -> Department:
    stamp = dt.datetime.now(dt.UTC)
    return tx(lambda: Department.create(name=name, parent=parent, doc_code=doc_code,
                                        short_name=name, created_at=stamp, updated_at=stamp))


def _lead(dept: Department, user: User) -> None:
    tx(lambda: Department.update(leader_id=user.id).where(Department.id == dept.id).execute())


@dataclass
class FlowBureau:
    root: Department
    office: Department
    legal: Department
    crime: Department      # 刑侦支队: drafts
    command: Department    # 指挥中心: countersigns and receives
    info: Department       # 信息中心: countersigns
    chief: User
    office_leader: User
    seal_keeper: User
    legal_leader: User
    crime_leader: User
    drafter: User
    command_leader: User
    command_deputy: User
    command_clerk: User
    command_staff: User
    info_leader: User
    outsider: User


def make_flow_bureau() -> FlowBureau:
    root = _dept("X市公安局", None, "X公")
    office = _dept("办公室", root, "X公办")
    legal = _dept("法制大队", root, "X公法")
    crime = _dept("刑侦支队", root, "X公刑")
    command = _dept("指挥中心", root, "X公指")
    info = _dept("信息中心", root, "X公信")
    staff = ("staff",)
    people = {
        "chief": make_user("chief", name="王局长", department=root, roles=staff),
        "office_leader": make_user("officelead", name="刘主任", department=office, roles=staff),
        "seal_keeper": make_user("sealer", name="周监印", department=office, roles=staff),
        "legal_leader": make_user("legallead", name="朱大队长", department=legal, roles=staff),
        "crime_leader": make_user("crimelead", name="郑支队长", department=crime, roles=staff),
        "drafter": make_user("drafter", name="韩拟稿", department=crime, roles=staff),
        "command_leader": make_user("cmdlead", name="何主任", department=command, roles=staff),
        "command_deputy": make_user("cmddep", name="高副主任", department=command, roles=staff),
        "command_clerk": make_user("cmdclerk", name="林文书", department=command, roles=staff),
        "command_staff": make_user("cmdstaff", name="宋民警", department=command, roles=staff),
        "info_leader": make_user("infolead", name="罗主任", department=info, roles=staff),
        "outsider": make_user("outsider", name="胡局外", department=legal, roles=staff),
    }
    for dept, key in ((root, "chief"), (office, "office_leader"), (legal, "legal_leader"),
                      (crime, "crime_leader"), (command, "command_leader"),
                      (info, "info_leader")):
        _lead(dept, people[key])
    tx(lambda: DepartmentDeputy.create(department=command.id,
                                       user=people["command_deputy"].id))

    def seal_role() -> None:
        from app.documents import demo

        demo.load()
        role = Role.get(Role.code == demo.SEAL_ROLE)
        UserRole.insert(user=people["seal_keeper"].id, role=role.id,
                        granted_at=dt.datetime.now(dt.UTC)).on_conflict_ignore().execute()
    tx(seal_role)
    flow.register()
    tx(flow.install_flows)
    return FlowBureau(root, office, legal, crime, command, info, **people)


def open_task(instance_id: int, user: User) -> int:
    tasks = tx(lambda: list(Task.select().where(
        (Task.instance_id == instance_id) & (Task.assignee_id == user.id)
        & (Task.status == "open")).order_by(Task.id)))
    assert len(tasks) == 1, f"{user.name} has {len(tasks)} open tasks in instance {instance_id}"
    return tasks[0].id


def approve(instance_id: int, user: User, comment: str = "同意。", form=None) -> dict:
    return tx(engine.approve, ctx_for(user), open_task(instance_id, user), comment, form)


def current(instance_id: int) -> list[str]:
    from app.workflow.models import Instance

    return tx(lambda: list(Instance.get_by_id(instance_id).current_nodes))


def badge_matches_list(user: User) -> int:
    """The nav badge and the 待办 list agree; returns the count."""
    ctx = ctx_for(user)
    count = tx(service.todo_count, ctx)
    listed = tx(service.todo_list, ctx, {})
    assert count == listed["total"] == len(listed["items"])
    return count
