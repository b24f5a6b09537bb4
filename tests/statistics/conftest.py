"""A small bureau with a month of 公文 and workflow tasks whose statistics are computed by hand.

刑侦支队 (A, leader `leader_a`) with its 一大队 (A1), and 治安支队 (B). People: `ke_a` (科员 of
A), `ke_a1` (科员 of A1), `ke_b` (科员 of B), all 普通用户; `office` holds a role with
statistics.view at scope 全部 (the 办公室's grant). Times are Beijing time, March 2026.

Tasks done in March (hours = acted − received):
  review 部门审核  ke_a   2 h  due later         -> on time
  review 部门审核  ke_a   4 h  due 1 h earlier   -> overdue
  review 部门审核  ke_a1  6 h  no deadline
  sign   签发      leader_a 10 h due earlier     -> overdue
  review 部门审核  ke_b   1 h  due next day      -> on time
  review 部门审核  ke_b   2 h  no deadline, acted 03-31 23:30 (inside the range's last day)
  draft  拟稿      ke_a   (not 办理; counted as 拟稿提交)
Outside the range: a review done 02-27 and one done 04-01 00:30.
Open now: ke_a two (one overdue since 03-11), ke_b one waiting (due 2099).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from app.core.db import run_in_transaction
from app.documents.models import IncomingDocument, OutgoingDocument
from app.org.models import Department, User
from app.workflow.models import Definition, Instance, NodeRun, Task
from tests.support.accounts import make_department as _department
from tests.support.accounts import make_role, make_user

BEIJING = ZoneInfo("Asia/Shanghai")
MARCH = {"since": "2026-03-01", "until": "2026-03-31"}
OFFICE_ROLE = "stat_office"


def at(day: str, clock: str = "09:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BEIJING)


@dataclass
class Bureau:
    root: Department
    a: Department
    a1: Department
    b: Department
    leader_a: User
    ke_a: User
    ke_a1: User
    ke_b: User
    office: User


class _Flow:
    """Writes instances and tasks as the engine stores them, with chosen times."""

    def __init__(self, initiator: User) -> None:
        now = dt.datetime.now(dt.UTC)
        self.initiator = initiator
        self.definition = Definition.create(code="stat_test", name="测试发文", version=1,
                                            status="published", graph={}, created_at=now,
                                            updated_at=now)

    def task(self, assignee: User, node: str, created: dt.datetime, *,
             acted: dt.datetime | None = None, due: dt.datetime | None = None,
             status: str = "done", kind: str = "approve") -> None:
        instance = Instance.create(definition=self.definition, flow_code="stat_test",
                                   title="测试公文", initiator_id=self.initiator.id,
                                   started_at=created, updated_at=created)
        run = NodeRun.create(instance_id=instance.id, node_key=node, node_type="task",
                             entered_at=created)
        names = {"review": "部门审核", "sign": "签发", "start": "拟稿"}
        Task.create(instance_id=instance.id, run_id=run.id, node_key=node,
                    node_name=names[node], kind=kind, assignee_id=assignee.id, status=status,
                    created_at=created, due_at=due, acted_at=acted,
                    action="approve" if acted else None)


def _tasks(bureau: Bureau) -> None:
    flow = _Flow(bureau.ke_a)
    flow.task(bureau.ke_a, "start", at("2026-03-02", "08:00"), acted=at("2026-03-02", "08:00"),
              kind="draft")
    flow.task(bureau.ke_a, "review", at("2026-03-02"), acted=at("2026-03-02", "11:00"),
              due=at("2026-03-02", "17:00"))
    flow.task(bureau.ke_a, "review", at("2026-03-03"), acted=at("2026-03-03", "13:00"),
              due=at("2026-03-03", "12:00"))
    flow.task(bureau.ke_a1, "review", at("2026-03-04"), acted=at("2026-03-04", "15:00"))
    flow.task(bureau.leader_a, "sign", at("2026-03-05", "08:00"),
              acted=at("2026-03-05", "18:00"), due=at("2026-03-05", "10:00"))
    flow.task(bureau.ke_b, "review", at("2026-03-06"), acted=at("2026-03-06", "10:00"),
              due=at("2026-03-07"))
    flow.task(bureau.ke_b, "review", at("2026-03-31", "21:30"), acted=at("2026-03-31", "23:30"))
    flow.task(bureau.ke_a, "review", at("2026-02-26"), acted=at("2026-02-27"))
    flow.task(bureau.ke_b, "review", at("2026-03-31", "22:30"), acted=at("2026-04-01", "00:30"))
    flow.task(bureau.ke_a, "review", at("2026-03-10"), due=at("2026-03-11"), status="open")
    flow.task(bureau.ke_a, "review", at("2026-03-20"), status="open")
    flow.task(bureau.ke_b, "review", at("2026-03-15"), due=at("2099-01-01"), status="waiting")


def _documents(bureau: Bureau) -> None:
    serial = iter(range(1, 100))

    def outgoing(dept: Department, created: dt.datetime, doc_type: str, *, secrecy: int = 0,
                 status: str = "in_flow", numbered: bool = False) -> None:
        n = next(serial)
        number = {"doc_number": f"X公发〔2026〕{n}号", "number_code": "X公", "number_year": 2026,
                  "number_seq": n} if numbered else {}
        OutgoingDocument.create(status=status, serial_no=f"S-{n}", title="测试发文",
                                doc_type=doc_type, secrecy=secrecy, drafting_department=dept,
                                drafter=bureau.ke_a, created_at=created, updated_at=created,
                                **number)

    outgoing(bureau.a, at("2026-03-02"), "通知", status="distributed", numbered=True)
    outgoing(bureau.a, at("2026-03-15"), "通知", secrecy=1)
    outgoing(bureau.a, at("2026-03-20"), "请示")
    outgoing(bureau.a, at("2026-03-31", "23:00"), "报告")
    outgoing(bureau.b, at("2026-03-05"), "函", status="distributed", numbered=True)
    outgoing(bureau.a, at("2026-03-06"), "通知", status="draft")
    outgoing(bureau.a, at("2026-03-07"), "通知", status="cancelled")
    outgoing(bureau.a, at("2026-02-28", "23:59"), "通知")

    def incoming(dept: Department, day: str, secrecy: int = 0) -> None:
        n = next(serial)
        IncomingDocument.create(receipt_no=f"X公收〔2026〕{n}号", source_unit="省公安厅",
                                title="来文", secrecy=secrecy,
                                received_on=dt.date.fromisoformat(day), department=dept,
                                created_at=at(day))

    incoming(bureau.a, "2026-03-03")
    incoming(bureau.a, "2026-03-25", secrecy=2)
    incoming(bureau.b, "2026-03-10")
    incoming(bureau.b, "2026-04-01")


def build_bureau() -> Bureau:
    """The bureau above, written into the (emptied) test database."""
    root = _department("X市公安局")
    a, b = _department("刑侦支队", root), _department("治安支队", root)
    a1 = _department("一大队", a)
    make_role(OFFICE_ROLE, {"statistics.view": "all"})  # the 办公室's grant
    people = {
        "leader_a": make_user("leader_a", name="刑侦支队长", department=a, roles=("staff",)),
        "ke_a": make_user("ke_a", name="刑侦科员", department=a, roles=("staff",)),
        "ke_a1": make_user("ke_a1", name="大队科员", department=a1, roles=("staff",)),
        "ke_b": make_user("ke_b", name="治安科员", department=b, roles=("staff",)),
        "office": make_user("office", name="办公室统计员", department=root,
                            roles=(OFFICE_ROLE,)),
    }
    run_in_transaction(lambda: Department.update(leader_id=people["leader_a"].id)
                       .where(Department.id == a.id).execute())
    found = Bureau(root=root, a=a, a1=a1, b=b, **people)
    run_in_transaction(_tasks, found)
    run_in_transaction(_documents, found)
    return found


@pytest.fixture
def bureau(db) -> Bureau:
    return build_bureau()
