"""The default flows resolve their handlers against the demo bureau (app/org/demo_data.yaml):
the demo works out of the box, loaded as `oa-ops demo load` loads it."""

from __future__ import annotations

import pytest

from app.documents import flow, service
from app.documents.models import IncomingDocument, OutgoingDocument
from app.features import installed_features
from app.org.models import Department, User
from app.workflow.models import Task
from tests.documents.conftest import draft_values
from tests.documents.flow_support import tx
from tests.support.accounts import ctx_for


@pytest.fixture
def demo(db, tmp_path, settings_override):
    settings_override(extra={"doc_storage_dir": str(tmp_path / "files"), "fonds_code": "X001"})
    for feature in installed_features():
        if feature.demo is not None:
            tx(feature.demo)
    for feature in installed_features():  # a second load changes nothing
        if feature.demo is not None:
            tx(feature.demo)


def _person(employee_no: str) -> User:
    return tx(lambda: User.get(User.employee_no == employee_no))


def _dept(name: str) -> int:
    return tx(lambda: Department.get(Department.name == name).id)


def _step(instance_id: int, expected: list[str], comment: str = "同意。") -> None:
    """The open tasks belong to exactly these people; each approves."""
    tasks = tx(lambda: list(Task.select().where((Task.instance_id == instance_id)
                                                & (Task.status == "open")
                                                & (Task.kind != "circulate"))))
    names = sorted(tx(lambda: [User.get_by_id(t.assignee_id).name for t in tasks]))
    assert names == sorted(expected)
    from app.workflow import engine

    for task in tasks:
        person = tx(lambda t=task: User.get_by_id(t.assignee_id))
        tx(engine.approve, ctx_for(person), task.id, comment)


def test_the_demo_bureau_runs_both_flows(demo):
    from app.workflow.models import Definition

    assert tx(lambda: Definition.select().where(Definition.code.in_(
        ["fawen", "shouwen"])).count()) == 2  # installed once, not again on the second load
    drafter = _person("010703")  # 韩冰, 刑侦支队
    values = draft_values(title="关于增配刑侦技术装备的请示", doc_type="请示",
                          main_to="市局指挥中心", main_to_copies="1", cc="", cc_copies="0",
                          main_to_dept_ids=[str(_dept("指挥中心"))],
                          countersign_dept_ids=[str(_dept("指挥中心")), str(_dept("信息中心"))],
                          is_normative="1")
    doc_id = tx(service.create_draft, ctx_for(drafter), values)["id"]
    iid = tx(flow.submit, ctx_for(drafter), doc_id, "")["instance_id"]
    _step(iid, ["郑国庆"])             # 部门审核: the 刑侦支队's leader
    _step(iid, ["朱明辉"])             # 法规部门审核: the 法制大队's leader
    _step(iid, ["刘海涛"])             # 办公室核稿: the 办公室's leader
    _step(iid, ["何建军", "罗文斌"])   # 会签: 指挥中心 and 信息中心
    _step(iid, ["王建国"])             # 签发: the bureau's leader
    _step(iid, ["周晓燕"])             # 用印: the 监印人 role
    doc = tx(lambda: OutgoingDocument.get_by_id(doc_id))
    assert doc.status == "archived" and doc.doc_number.startswith("X公刑发〔")

    copy = tx(lambda: IncomingDocument.get(IncomingDocument.source_document == doc_id))
    clerk = _person("010503")  # 林浩, 指挥中心
    rid = tx(flow.start_incoming, ctx_for(clerk), copy.id, "")["instance_id"]
    _step(rid, ["林浩"])               # 登记
    _step(rid, ["林浩"])               # 初审
    _step(rid, ["何建军"])             # 拟办
    _step(rid, ["王建国"], "同意。")   # 批办: the bureau leader's 批示
    _step(rid, ["何建军"])             # 承办
    readers = tx(lambda: sorted(User.get_by_id(t.assignee_id).name for t in Task.select().where(
        (Task.instance_id == rid) & (Task.kind == "circulate"))))
    assert readers == sorted(["何建军", "高雪梅"])
    _step(rid, ["林浩"])               # 办结
    assert tx(lambda: IncomingDocument.get_by_id(copy.id).status) == "archived"
