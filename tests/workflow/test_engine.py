"""The runtime's operations, each with its exact semantics."""

from __future__ import annotations

import datetime as dt

import pytest

from app.core import events
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.features import Scope
from app.workflow import engine, scheduler, service
from app.workflow.models import Delegation, History, Instance, Task
from app.workflow.system import register_system_action, unregister_system_action
from tests.workflow import flows
from tests.workflow.conftest import (
    install,
    instance,
    open_tasks,
    start,
    the_task,
    todo_ids,
    tx,
)


def approve(bureau, who: str, iid: int, comment: str = "同意", **kwargs) -> dict:
    return tx(engine.approve, bureau.ctx(who), the_task(iid, getattr(bureau, who)), comment,
              **kwargs)


def history_actions(iid: int) -> list[str]:
    return tx(lambda: [h.action for h in History.select().where(History.instance_id == iid)
                       .order_by(History.id)])


# ---- submit, approve, opinions ------------------------------------------------------------------
def test_submit_and_approve_write_opinions_and_history(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id], "amount": "12"})
    assert instance(iid).current_nodes == ["review"]
    assert instance(iid).form["amount"] == 12
    approve(bureau, "leader", iid, "拟同意")
    approve(bureau, "a", iid, "签发")
    inst = instance(iid)
    assert inst.status == "finished"
    assert [e["comment"] for e in inst.form["opinion"]] == ["拟同意"]
    assert inst.form["opinion"][0]["name"] == "主任"
    assert history_actions(iid) == ["submit", "approve", "approve", "finish"]
    ips = tx(lambda: {h.ip for h in History.select().where(History.actor_id.is_null(False))})
    assert ips == {"10.0.0.8"}


def test_form_is_validated_on_submit(bureau) -> None:
    install(flows.SIMPLE)
    with pytest.raises(ValidationError) as info:
        start(bureau, "simple", form={"amount": "很多", "nope": 1, "opinion": "自己写"})
    assert set(info.value.fields) == {"amount", "nope", "opinion"}


def test_a_node_without_handlers_refuses_to_proceed(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={})
    with pytest.raises(ValidationError, match="找不到处理人"):
        approve(bureau, "leader", iid)
    assert instance(iid).current_nodes == ["review"]  # the failed approval changed nothing


# ---- return (回退) ------------------------------------------------------------------------------
def test_return_to_previous_node_and_to_drafter(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    approve(bureau, "leader", iid)
    tx(engine.return_task, bureau.ctx("a"), the_task(iid, bureau.a), "previous", "请重新审核")
    assert instance(iid).current_nodes == ["review"]
    leader_task = the_task(iid, bureau.leader)
    tx(engine.return_task, bureau.ctx("leader"), leader_task, "drafter", "请修改")
    draft = tx(Task.get_by_id, the_task(iid, bureau.drafter))
    assert draft.kind == "draft"
    # the drafter edits the form and resubmits; the flow starts again from the start node
    tx(engine.approve, bureau.ctx("drafter"), draft.id, "已修改", {"amount": 5})
    assert instance(iid).form["amount"] == 5
    assert instance(iid).current_nodes == ["review"]
    with pytest.raises(ValidationError):
        tx(engine.return_task, bureau.ctx("leader"), the_task(iid, bureau.leader), "previous", "")


def test_return_to_any_completed_node(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    task = the_task(iid, bureau.a)
    with pytest.raises(ValidationError) as info:
        tx(engine.return_task, bureau.ctx("a"), task, "end", "不行")
    assert "已经办理过" in info.value.fields["target"]
    view = tx(service.task_view, bureau.ctx("a"), task)
    assert [t["key"] for t in view["task"]["return_targets"]] == ["start", "check"]
    tx(engine.return_task, bureau.ctx("a"), task, "check", "请核稿")
    assert instance(iid).current_nodes == ["check"]
    assert the_task(iid, bureau.leader)  # the one who handled it gets it again


def test_return_inside_a_cosign_cancels_the_other_cosigners(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}, {bureau.c.id}"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    approve(bureau, "a", iid)
    tx(engine.return_task, bureau.ctx("b"), the_task(iid, bureau.b), "previous", "有误")
    assert open_tasks(iid, bureau.c) == []
    cancelled = tx(lambda: Task.get((Task.instance_id == iid) & (Task.assignee_id == bureau.c.id)))
    assert cancelled.status == "cancelled"
    assert [t.assignee_id for t in open_tasks(iid)] == [bureau.leader.id]


# ---- 会签 rules ---------------------------------------------------------------------------------
def test_cosign_all_waits_for_everyone(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    approve(bureau, "a", iid)
    assert instance(iid).status == "running"
    approve(bureau, "b", iid)
    assert instance(iid).status == "finished"
    assert len(instance(iid).form["opinions"]) == 2


def test_cosign_any_one_completes_and_cancels_the_rest(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}", completion="any"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    approve(bureau, "b", iid)
    assert instance(iid).status == "finished"
    assert open_tasks(iid) == []


def test_cosign_ratio(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}, {bureau.c.id}", completion="ratio",
                         ratio=0.6))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    approve(bureau, "a", iid)
    tx(engine.reject, bureau.ctx("b"), the_task(iid, bureau.b), "不同意")
    assert instance(iid).status == "running"  # 1 of 3 yes, 1 no: 2 of 3 still possible
    approve(bureau, "c", iid)
    assert instance(iid).status == "finished"  # ceil(0.6 × 3) = 2 approvals


def test_cosign_fails_when_the_rule_cannot_be_met(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    tx(engine.reject, bureau.ctx("a"), the_task(iid, bureau.a), "不同意")
    assert open_tasks(iid, bureau.b) == []
    assert tx(Task.get_by_id, the_task(iid, bureau.drafter)).kind == "draft"


def test_veto_ends_the_node_at_once(bureau) -> None:
    install(flows.cosign(f"{bureau.a.id}, {bureau.b.id}, {bureau.c.id}", completion="ratio",
                         ratio=0.5, veto=True, on_reject="terminate"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    approve(bureau, "a", iid)
    with pytest.raises(ValidationError):
        tx(engine.reject, bureau.ctx("b"), the_task(iid, bureau.b), "")  # a reason is required
    tx(engine.reject, bureau.ctx("b"), the_task(iid, bureau.b), "一票否决")
    assert instance(iid).status == "terminated"
    assert open_tasks(iid) == []


def test_sequential_signing_goes_one_after_another(bureau) -> None:
    install(flows.cosign(f"{bureau.b.id}, {bureau.a.id}", mode="sequential"))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    assert [t.assignee_id for t in open_tasks(iid)] == [bureau.b.id]
    approve(bureau, "b", iid)
    assert [t.assignee_id for t in open_tasks(iid)] == [bureau.a.id]
    approve(bureau, "a", iid)
    assert instance(iid).status == "finished"


# ---- recall (撤回) ------------------------------------------------------------------------------
def test_sender_recalls_while_the_next_handler_has_not_acted(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    submitted = tx(lambda: Task.get((Task.instance_id == iid) & (Task.kind == "draft")).id)
    with pytest.raises(PermissionDenied):
        tx(engine.recall, bureau.ctx("leader"), submitted)
    tx(engine.recall, bureau.ctx("drafter"), submitted, "还要改")
    assert open_tasks(iid, bureau.leader) == []
    assert tx(Task.get_by_id, the_task(iid, bureau.drafter)).kind == "draft"
    assert instance(iid).current_nodes == ["start"]
    tx(engine.approve, bureau.ctx("drafter"), the_task(iid, bureau.drafter), "改好了")
    leader_task = the_task(iid, bureau.leader)
    tx(engine.approve, bureau.ctx("leader"), leader_task, "同意")
    tx(engine.recall, bureau.ctx("leader"), leader_task)  # the signer has not acted yet
    assert the_task(iid, bureau.leader) != leader_task
    assert instance(iid).form.get("opinion") == []  # the recalled opinion is gone


def test_no_recall_once_the_next_handler_acted(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id, bureau.b.id]})
    leader_task = the_task(iid, bureau.leader)
    tx(engine.approve, bureau.ctx("leader"), leader_task, "同意")
    tx(engine.transfer, bureau.ctx("a"), the_task(iid, bureau.a), bureau.c.id, "请代签")
    with pytest.raises(Conflict, match="下一环节已经办理"):
        tx(engine.recall, bureau.ctx("leader"), leader_task)


def test_no_recall_after_a_system_step_or_the_end(bureau) -> None:
    install(flows.cosign(str(bureau.a.id)))
    iid = start(bureau, "cosign")
    approve(bureau, "leader", iid)
    last = the_task(iid, bureau.a)
    tx(engine.approve, bureau.ctx("a"), last, "同意")
    with pytest.raises(Conflict, match="流程已结束"):
        tx(engine.recall, bureau.ctx("a"), last)


# ---- transfer, add signers ----------------------------------------------------------------------
def test_transfer_moves_the_task(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    task = the_task(iid, bureau.leader)
    with pytest.raises(ValidationError):
        tx(engine.transfer, bureau.ctx("leader"), task, bureau.leader.id)
    tx(engine.transfer, bureau.ctx("leader"), task, bureau.b.id, "请乙办理")
    assert tx(Task.get_by_id, task).status == "transferred"
    approve(bureau, "b", iid, "同意（转办）")
    assert instance(iid).current_nodes == ["sign"]


def test_add_signer_before(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    task = the_task(iid, bureau.leader)
    tx(engine.add_signers, bureau.ctx("leader"), task, [bureau.b.id, bureau.c.id], "before",
       "请先会签")
    assert todo_ids(bureau, "leader") == []  # waiting for the added signers
    approve(bureau, "b", iid)
    assert todo_ids(bureau, "leader") == []
    approve(bureau, "c", iid)
    assert todo_ids(bureau, "leader") == [task]  # back to me
    approve(bureau, "leader", iid)
    assert instance(iid).current_nodes == ["sign"]


def test_add_signer_after(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    tx(engine.add_signers, bureau.ctx("leader"), the_task(iid, bureau.leader), [bureau.b.id],
       "after", "同意，请乙再审")
    assert instance(iid).current_nodes == ["review"]
    approve(bureau, "b", iid)
    assert instance(iid).current_nodes == ["sign"]


# ---- delegation ---------------------------------------------------------------------------------
def test_delegation_in_range_and_its_expiry(bureau) -> None:
    install(flows.SIMPLE)
    today = engine.today()
    tx(service.create_delegation, bureau.ctx("leader"),
       {"delegate_id": bureau.a.id, "start_date": today, "end_date": today, "flow_code": ""})
    iid = start(bureau, "simple", form={"signers": [bureau.b.id]})
    delegated = tx(Task.get_by_id, the_task(iid, bureau.a))
    assert delegated.original_assignee_id == bureau.leader.id
    item = tx(service.todo_list, bureau.ctx("a"), {})["items"][0]
    assert item["delegated_from"] == "主任"
    # the delegator still sees it
    assert tx(lambda: engine.is_participant(bureau.leader.id, Instance.get_by_id(iid)))
    # the range is over: new tasks go to the leader again
    tx(lambda: Delegation.update(start_date=today - dt.timedelta(days=5),
                                 end_date=today - dt.timedelta(days=1)).execute())
    second = start(bureau, "simple", form={"signers": [bureau.b.id]})
    assert the_task(second, bureau.leader)
    with pytest.raises(ValidationError):
        tx(service.create_delegation, bureau.ctx("leader"),
           {"delegate_id": bureau.leader.id, "start_date": today, "end_date": today})


def test_a_flows_own_delegation_comes_before_one_for_every_flow(bureau) -> None:
    install(flows.SIMPLE)
    today = engine.today()
    leader = bureau.ctx("leader")
    every_flow = {"start_date": today, "end_date": today, "flow_code": ""}
    tx(service.create_delegation, leader, {**every_flow, "delegate_id": bureau.a.id})
    own = tx(service.create_delegation, leader,
             {**every_flow, "flow_code": "simple", "delegate_id": bureau.b.id})["id"]

    def delegate(flow: str, on: dt.date = today) -> int | None:
        found = tx(engine.active_delegation, bureau.leader.id, flow, on)
        return found.delegate_id if found else None

    assert delegate("simple") == bureau.b.id
    assert tx(engine.active_delegation, bureau.leader.id, "simple").id == own
    assert delegate("another") == bureau.a.id
    assert delegate("simple", today + dt.timedelta(days=1)) is None  # out of range
    tx(service.revoke_delegation, leader, own)
    assert delegate("simple") == bureau.a.id  # a revoked delegation is no longer in force


# ---- urge, terminate ----------------------------------------------------------------------------
def test_urge_is_recorded_and_published(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    seen: list[dict] = []

    def listener(ctx, **payload):
        seen.append(payload)

    events.subscribe(engine.TASK_URGED, listener)
    with pytest.raises(PermissionDenied):
        tx(engine.urge, bureau.ctx("outsider"), iid, "快")
    tx(engine.urge, bureau.ctx("drafter"), iid, "请尽快审核")
    assert seen and seen[0]["assignee_id"] == bureau.leader.id
    item = tx(service.todo_list, bureau.ctx("leader"), {})["items"][0]
    assert item["urge_count"] == 1
    assert "urge" in history_actions(iid)


def test_terminate_needs_the_monitor_permission(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    with pytest.raises(PermissionDenied):
        tx(engine.terminate, bureau.ctx("drafter"), iid, "不办了")
    monitor = bureau.ctx("chief", permissions={engine.MONITOR: Scope.ALL})
    tx(engine.terminate, monitor, iid, "撤销此事项")
    assert instance(iid).status == "terminated"
    assert todo_ids(bureau, "leader") == []
    with pytest.raises(Conflict):
        tx(engine.approve, bureau.ctx("leader"),
           tx(lambda: Task.get(Task.instance_id == iid, Task.assignee_id == bureau.leader.id).id))


# ---- node types ---------------------------------------------------------------------------------
def _branching(bureau) -> None:
    install(flows.BRANCHING.replace("LEGAL", str(bureau.legal.id))
            .replace("LEFT", str(bureau.a.id)).replace("RIGHT", str(bureau.leader.id))
            .replace("READER", str(bureau.chief.id)))


def test_gateway_split_join_system_and_circulate(bureau) -> None:
    _branching(bureau)
    entered: list[str] = []

    def on_enter(ctx, **payload):
        entered.append(payload["node_key"])

    events.subscribe(engine.NODE_ENTERED, on_enter)
    register_system_action("test", "number", lambda step: {"密级": step.form["密级"]}
                           if False else None)
    numbers: list[int] = []

    def number(step):
        numbers.append(step.instance_id)
        return {}

    register_system_action("test", "number", number)
    try:
        plain = start(bureau, "branching", business_type="test", form={"密级": "非密"})
        assert sorted(instance(plain).current_nodes) == ["left", "right"]
        secret = start(bureau, "branching", business_type="test", form={"密级": "机密"})
        assert instance(secret).current_nodes == ["legal"]
        assert {t.assignee_id for t in open_tasks(secret)} == {bureau.b.id, bureau.c.id,
                                                              bureau.outsider.id}
        approve(bureau, "a", plain)
        assert sorted(instance(plain).current_nodes) == ["join", "right"]  # join waits
        approve(bureau, "leader", plain)
        assert numbers == [plain]
        inst = instance(plain)
        assert inst.status == "finished"
        assert "number" in entered and "read" in entered
        reading = tx(service.circulate_list, bureau.ctx("chief"), {})["items"]
        assert [r["instance_id"] for r in reading] == [plain]
        tx(engine.mark_read, bureau.ctx("chief"), reading[0]["task_id"])
        receipts = tx(service.instance_view, bureau.ctx("chief"), plain)["receipts"]
        assert receipts[0]["read"] and receipts[0]["read_at"] is not None
    finally:
        unregister_system_action("test", "number")


def test_an_unregistered_system_step_rolls_the_approval_back(bureau) -> None:
    _branching(bureau)
    iid = start(bureau, "branching", business_type="other", form={"密级": "非密"})
    approve(bureau, "a", iid)
    with pytest.raises(ValidationError, match="没有注册处理程序"):
        approve(bureau, "leader", iid)
    assert the_task(iid, bureau.leader)  # still open


def test_subflow_runs_and_the_parent_resumes(bureau) -> None:
    install(flows.CHILD.replace("WORKER", str(bureau.b.id)))
    install(flows.PARENT)
    iid = start(bureau, "parent")
    child = tx(lambda: Instance.get(Instance.parent_instance_id == iid))
    assert instance(iid).current_nodes == ["child"]
    assert tx(service.instance_view, bureau.ctx("drafter"), iid)["children"] == [child.id]
    approve(bureau, "b", child.id, form={"result": "已核实"})
    assert instance(child.id).status == "finished"
    assert instance(iid).current_nodes == ["after"]
    assert instance(iid).form["result"] == "已核实"


# ---- deadlines ----------------------------------------------------------------------------------
def test_deadlines_follow_urgency_and_overdue_is_flagged(bureau) -> None:
    install(flows.SIMPLE)
    urgent = start(bureau, "simple", urgency=2, form={"signers": [bureau.a.id]})
    normal = start(bureau, "simple", urgency=0, form={"signers": [bureau.a.id]})
    tasks = {t.instance_id: t for t in open_tasks(urgent) + open_tasks(normal)}
    assert tasks[urgent].due_at - tasks[urgent].created_at == dt.timedelta(hours=2)
    assert tasks[normal].due_at - tasks[normal].created_at == dt.timedelta(hours=48)
    items = tx(service.todo_list, bureau.ctx("leader"), {})["items"]
    assert [i["instance_id"] for i in items] == [urgent, normal]  # urgency first
    assert not any(i["overdue"] for i in items)
    past = engine.now() - dt.timedelta(hours=1)
    tx(lambda: Task.update(due_at=past).where(Task.instance_id == normal).execute())
    items = tx(service.todo_list, bureau.ctx("leader"), {"overdue": "1"})["items"]
    assert [(i["instance_id"], i["overdue"]) for i in items] == [(normal, True)]


def test_reminder_and_escalation_pass(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    task = open_tasks(iid)[0]
    escalated: list[dict] = []
    events.subscribe(scheduler.TASK_ESCALATED, lambda ctx, **p: escalated.append(p))
    soon = task.created_at + (task.due_at - task.created_at) * 0.8
    assert tx(scheduler.deadline_pass, soon) == {"skipped": False, "reminded": 1, "escalated": 0}
    assert tx(scheduler.deadline_pass, soon)["reminded"] == 0  # once only
    late = task.due_at + dt.timedelta(minutes=1)
    assert tx(scheduler.deadline_pass, late)["escalated"] == 1
    assert escalated[-1]["leader_id"] == bureau.chief.id  # the leader's own leader
    assert {"remind", "escalate"} <= set(history_actions(iid))


# ---- visibility ---------------------------------------------------------------------------------
def test_only_participants_and_monitors_see_an_instance(bureau) -> None:
    install(flows.SIMPLE)
    iid = start(bureau, "simple", form={"signers": [bureau.a.id]})
    with pytest.raises(PermissionDenied):
        tx(service.instance_view, bureau.ctx("outsider"), iid)
    with pytest.raises(NotFound):
        tx(service.instance_view, bureau.ctx("outsider"), iid + 1000)
    assert tx(service.instance_view, bureau.ctx("leader"), iid)["title"]
    office_monitor = bureau.ctx("outsider", permissions={engine.MONITOR: Scope.DEPARTMENT})
    with pytest.raises(PermissionDenied):  # department scope: the legal department only
        tx(service.instance_view, office_monitor, iid)
    everywhere = bureau.ctx("outsider", permissions={engine.MONITOR: Scope.ALL})
    assert tx(service.instance_view, everywhere, iid)["can_terminate"]
    with pytest.raises(PermissionDenied):
        tx(engine.approve, bureau.ctx("outsider"), the_task(iid, bureau.leader), "抢办")


def test_badge_count_equals_the_list(bureau) -> None:
    install(flows.SIMPLE)
    for urgency in (0, 1, 2, 0):
        start(bureau, "simple", urgency=urgency, form={"signers": [bureau.a.id]})
    listed = tx(service.todo_list, bureau.ctx("leader"), {})
    assert tx(service.todo_count, bureau.ctx("leader")) == len(listed["items"]) == 4
    assert [i["urgency"] for i in listed["items"]] == [2, 1, 0, 0]
    approve_first = listed["items"][0]["task_id"]
    tx(engine.approve, bureau.ctx("leader"), approve_first, "同意")
    assert tx(service.todo_count, bureau.ctx("leader")) == len(
        tx(service.todo_list, bureau.ctx("leader"), {})["items"]) == 3
