"""公文 on the workflow engine: the default 发文 and 收文 flows and what their nodes do.

The flows themselves are editable definitions (flows/fawen.yaml, flows/shouwen.yaml). They are
installed by `install_flows` — at start-up (on_start) and by the demo loader — only while no
version of their code exists, so an administrator's edits in the designer are never replaced;
a new published version applies to new documents only.

What this module adds to the generic engine:
- submit (发文, from the draft page) and start_incoming (收文, from 签收): the flow's form is
  filled from the document (文种, 密级, the 会签部门...) and from the bureau's structure (法规审核
  部门, 核稿部门 and 签发部门 by the names in the settings `doc_legal_department`,
  `doc_office_department`, default 法制大队 and 办公室; the 签发部门 is the top of the drafter's
  tree, so the 签发 goes to the bureau leader);
- on every completed task of a 发文 (event workflow.task.completed) the node's opinion becomes
  a doc_opinion row of the 稿纸 field its `opinion_field` names (a 撤回 deletes it again); at
  签发 the actor signs (成文日期 = the 签发 date); at 用印 the actor seals;
- the system nodes `number` (编号: assign_number) and `distribute` (分发: the recipients'
  收文 appear, 待签收);
- when an instance finishes, the document is archived with the flow's history; when it is
  terminated, a 发文 is marked 作废;
- access: the participants of a document's flow may see it, and so may the recipients of a
  distributed 发文 (whoever may see one of its 收文 copies, and internal 抄送 people).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.audit.service import record
from app.core import events
from app.core.config import settings
from app.core.context import SYSTEM_CONTEXT, RequestContext
from app.core.db import database
from app.core.errors import Conflict, PermissionDenied
from app.documents import access, archive, service, validation
from app.documents.dates import now
from app.documents.models import (
    Distribution,
    IncomingDocument,
    Opinion,
    OutgoingDocument,
)
from app.org.models import User
from app.org.service import active_department_named, department, department_top, leader_of
from app.workflow import design, engine
from app.workflow.business import BusinessKind, register_business
from app.workflow.models import URGENCY_BY_TITLE, Definition, History, Instance, Task
from app.workflow.system import SystemStep, register_system_action

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
OUTGOING_FLOW = "fawen"
INCOMING_FLOW = "shouwen"
OUTGOING = "document.outgoing"
INCOMING = "document.incoming"
# the 稿纸 opinion field a node's opinion_field fills (doc_opinion.kind)
OPINION_KINDS = {"部门审核意见": "dept_review", "法规部门审核意见": "legal_review",
                 "办公室核稿意见": "office_review", "会签意见": "countersign",
                 "签发意见": "sign"}
SIGN_FIELD = "签发意见"
SEAL_FIELD = "用印意见"
ACTION_PREFIX = {"approve": "", "reject": "不同意：", "return": "退回："}


# ---- installing the default flows ---------------------------------------------------------------
def install_flows() -> list[str]:
    """Publish the shipped flows whose code has no version yet (blocking, in a transaction)."""
    installed = []
    for code in (OUTGOING_FLOW, INCOMING_FLOW):
        database.execute_sql("SELECT pg_advisory_xact_lock(7201130, hashtext(%s))", (code,))
        if Definition.select().where(Definition.code == code).exists():
            continue
        design.install((FLOWS_DIR / f"{code}.yaml").read_text(encoding="utf-8"), SYSTEM_CONTEXT)
        installed.append(code)
    return installed


# ---- the bureau's structure ---------------------------------------------------------------------
def _department_named(setting: str, default: str) -> int | None:
    return active_department_named(settings().extra.get(setting, default))


# ---- 发文 ---------------------------------------------------------------------------------------
def outgoing_form(doc: OutgoingDocument) -> dict[str, Any]:
    return {
        "文种": doc.doc_type, "密级": str(doc.secrecy),
        "自定规范性文件": bool(doc.is_normative), "政策法规类文件": bool(doc.is_policy),
        "会签部门": [int(d) for d in doc.countersign_dept_ids] or None,
        "法规审核部门": _department_named("doc_legal_department", "法制大队"),
        "核稿部门": _department_named("doc_office_department", "办公室"),
        "签发部门": department_top(doc.drafting_department_id).id,
    }


def submit(ctx: RequestContext, doc_id: int, comment: str = "") -> dict[str, Any]:
    """The drafter sends the 稿纸 into the 发文 flow (the validator runs first)."""
    doc = service.visible_outgoing(ctx, doc_id, for_update=True)
    if ctx.user_id != doc.drafter_id:
        raise PermissionDenied(message="只有拟稿人可以提交稿纸")
    if doc.workflow_instance_id is not None or doc.status != "draft":
        raise Conflict("该公文已提交流转")
    validation.check(service.document_view(doc), "draft")
    form = {k: v for k, v in outgoing_form(doc).items() if v is not None}
    started = engine.start(ctx, OUTGOING_FLOW, title=doc.title, business_type=OUTGOING,
                           business_id=str(doc.id), urgency=URGENCY_BY_TITLE.get(doc.urgency, 0),
                           form=form, comment=comment)
    service.attach_workflow(ctx, doc, started["instance_id"])
    _drafting_opinion(ctx, doc.id, comment, None)
    return started


def _drafting_opinion(ctx: RequestContext, doc_id: int, text: str, task_id: int | None) -> None:
    user = service.actor(ctx)
    dept = department(user.department_id)
    Opinion.create(document=doc_id, kind="drafting", department=dept.id, user=user.user_id,
                   user_name=user.name, department_name=dept.name, text=text or "提交",
                   task_id=task_id, created_at=now())


def _countersign_department(doc: OutgoingDocument, task: Task) -> int | None:
    """Which 会签部门 a co-signer signs for: the one they lead (or delegate for)."""
    people = {task.assignee_id, task.original_assignee_id}
    chosen = list(doc.countersign_dept_ids)
    for dept_id in chosen:
        if leader_of(dept_id) in people:
            return dept_id
    signed = {o.department_id for o in Opinion.select().where(
        (Opinion.document == doc.id) & (Opinion.kind == "countersign"))}
    user = User.get_by_id(task.assignee_id)
    if user.department_id in chosen:
        return user.department_id
    return next((d for d in chosen if d not in signed), chosen[0] if chosen else None)


def _on_outgoing_task(ctx: RequestContext, task: Task, inst: Instance, action: str,
                      comment: str) -> None:
    doc_id = int(inst.business_id)
    graph = engine.graph_of(inst.definition_id)
    if task.node_key == graph.start["key"]:
        if action == "submit":
            _drafting_opinion(ctx, doc_id, comment, task.id)
        return
    field = graph.nodes.get(task.node_key, {}).get("opinion_field", "")
    if field == SIGN_FIELD and action == "approve" and task.kind == "approve":
        service.sign(ctx, doc_id, comment or "同意", task_id=task.id, by_flow=True)
        return
    if field == SEAL_FIELD and action == "approve" and task.kind == "approve":
        service.seal(ctx, doc_id, by_flow=True)
        return
    kind = OPINION_KINDS.get(field)
    if kind is None or action not in ACTION_PREFIX:
        return
    department_id = None
    if kind == "countersign":
        department_id = _countersign_department(OutgoingDocument.get_by_id(doc_id), task)
    service.add_opinion(ctx, doc_id, kind, ACTION_PREFIX[action] + (comment or "同意"),
                        department_id=department_id, task_id=task.id, by_flow=True)


def _number_step(step: SystemStep) -> dict[str, Any]:
    return {"发文字号": service.assign_number(step.ctx, int(step.business_id), by_flow=True)}


def _distribute_step(step: SystemStep) -> dict[str, Any]:
    sent = service.distribute(step.ctx, int(step.business_id), by_flow=True)
    return {"分发收文": [s["incoming_id"] for s in sent["internal"]]}


# ---- 收文 ---------------------------------------------------------------------------------------
def incoming_form(incoming: IncomingDocument, clerk_id: int) -> dict[str, Any]:
    dept = incoming.department_id
    readers = [u.id for u in User.select(User.id).where(
        (User.department == dept) & (User.status == "active") & (User.id != clerk_id))
        .order_by(User.sort_order, User.id)]
    return {"经办人": [clerk_id], "收文部门": dept, "批办部门": department_top(dept).id,
            "承办部门": [dept], "传阅人员": readers or [clerk_id]}


def start_incoming(ctx: RequestContext, incoming_id: int, comment: str = "") -> dict[str, Any]:
    """签收 (a copy from internal exchange gets its 收文号 now) and start the 收文 flow."""
    incoming = service.visible_incoming(ctx, incoming_id, for_update=True)
    if incoming.workflow_instance_id is not None:
        raise Conflict("该收文已在办理中")
    if incoming.status == "pending":
        service.receive(ctx, incoming.id)
        incoming = IncomingDocument.get_by_id(incoming.id)
    elif incoming.status != "registered":
        raise Conflict("该收文已办结")
    started = engine.start(ctx, INCOMING_FLOW, title=incoming.title, business_type=INCOMING,
                           business_id=str(incoming.id),
                           urgency=URGENCY_BY_TITLE.get(incoming.urgency, 0),
                           form=incoming_form(incoming, ctx.user_id), comment=comment)
    IncomingDocument.update(workflow_instance_id=started["instance_id"], status="in_flow").where(
        IncomingDocument.id == incoming.id).execute()
    record(ctx, "documents.incoming.start", object_type="incoming_document",
           object_id=incoming.id, details={"workflow_instance_id": started["instance_id"]})
    return {**started, "receipt_no": incoming.receipt_no}


# ---- events -------------------------------------------------------------------------------------
def flow_history(instance_id: int) -> list[dict[str, Any]]:
    """The instance's record, as the archive keeps it."""
    rows = list(History.select().where(History.instance_id == instance_id).order_by(History.id))
    names = dict(User.select(User.id, User.name).where(
        User.id.in_([r.actor_id for r in rows if r.actor_id] or [0])).tuples())
    from app.workflow.models import ACTION_TITLES

    return [{"时间": r.created_at.isoformat(), "环节": r.node_name,
             "人员": names.get(r.actor_id, "系统"), "操作": ACTION_TITLES.get(r.action, r.action),
             "意见": r.comment, "地址": r.ip} for r in rows]


def _task_completed(ctx: RequestContext, *, task_id: int, instance_id: int, action: str,
                    business_type: str, comment: str = "", **_: Any) -> None:
    if business_type != OUTGOING:
        return
    _on_outgoing_task(ctx, engine.find_task(task_id), engine.find_instance(instance_id), action,
                      comment or "")


def _task_recalled(ctx: RequestContext, *, task_id: int, business_type: str, business_id: str,
                   **_: Any) -> None:
    """撤回: the recalled task's opinion leaves the 稿纸 as it leaves the flow's form."""
    if business_type != OUTGOING:
        return
    removed = Opinion.delete().where((Opinion.document == int(business_id))
                                     & (Opinion.task_id == task_id)).execute()
    if removed:
        record(ctx, "documents.outgoing.opinion_recall", object_type="outgoing_document",
               object_id=int(business_id), details={"task_id": task_id})


def _instance_finished(ctx: RequestContext, *, instance_id: int, business_type: str,
                       business_id: str, **_: Any) -> None:
    if business_type == OUTGOING:
        archive.archive(ctx, int(business_id), history=flow_history(instance_id), by_flow=True)
    elif business_type == INCOMING:
        IncomingDocument.update(status="done").where(
            IncomingDocument.id == int(business_id)).execute()
        archive.archive_incoming(ctx, int(business_id), history=flow_history(instance_id),
                                 by_flow=True)


def _instance_terminated(ctx: RequestContext, *, business_type: str, business_id: str,
                         **_: Any) -> None:
    if business_type == OUTGOING:
        OutgoingDocument.update(status="cancelled", updated_at=now()).where(
            (OutgoingDocument.id == int(business_id))
            & OutgoingDocument.status.in_(["in_flow", "signed"])).execute()
    elif business_type == INCOMING:
        IncomingDocument.update(status="registered", workflow_instance_id=None).where(
            IncomingDocument.id == int(business_id)).execute()


# ---- access -------------------------------------------------------------------------------------
def flow_access_condition(ctx: RequestContext, kind: str) -> Any:
    """Participants of the document's flow; for a distributed 发文, also its recipients (people
    it was delivered to, and whoever may see one of its 收文 copies)."""
    if ctx.user_id is None:
        return None
    model = OutgoingDocument if kind == access.OUTGOING else IncomingDocument
    condition = model.workflow_instance_id.in_(engine.participant_instances(ctx.user_id))
    if kind == access.INCOMING:
        return condition
    copies = IncomingDocument.select(IncomingDocument.source_document).where(
        IncomingDocument.source_document.is_null(False))
    seen_copies = access.incoming_condition(ctx)
    if seen_copies is not None:
        copies = copies.where(seen_copies)
    delivered = Distribution.select(Distribution.document).where(Distribution.user == ctx.user_id)
    recipient = OutgoingDocument.id.in_(delivered) | OutgoingDocument.id.in_(copies)
    return condition | (OutgoingDocument.status.in_(["distributed", "archived"]) & recipient)


# ---- what the todo centre shows (the reference: documents migration 0003's triggers) ---------
OUTGOING_SHOWN = BusinessKind("发文", "/documents/{id}")
INCOMING_SHOWN = BusinessKind("收文", "/documents/incoming/{id}", blank="待签收")


def register() -> None:
    """Wire 公文 into the engine (idempotent): events, system steps, access, descriptions."""
    events.subscribe(engine.TASK_COMPLETED, _task_completed)
    events.subscribe(engine.TASK_RECALLED, _task_recalled)
    events.subscribe(engine.INSTANCE_FINISHED, _instance_finished)
    events.subscribe(engine.INSTANCE_TERMINATED, _instance_terminated)
    register_system_action(OUTGOING, "number", _number_step)
    register_system_action(OUTGOING, "distribute", _distribute_step)
    access.add_rule(flow_access_condition)
    register_business(OUTGOING, OUTGOING_SHOWN)
    register_business(INCOMING, INCOMING_SHOWN)


# ---- the document pages -------------------------------------------------------------------------
def flow_status(ctx: RequestContext, instance_id: int | None) -> dict[str, Any] | None:
    """The flow of a document for its page: state, current nodes, my open task."""
    if instance_id is None:
        return None
    inst = engine.find_instance(instance_id)
    if inst is None:
        return None
    graph = engine.graph_of(inst.definition_id)
    mine = (Task.select().where((Task.instance_id == inst.id) & (Task.assignee_id == ctx.user_id)
                                & (Task.status == "open")).order_by(Task.id).first())
    from app.workflow.models import INSTANCE_STATUS_TITLES

    return {"instance_id": inst.id, "status": inst.status,
            "status_title": INSTANCE_STATUS_TITLES.get(inst.status, inst.status),
            "current": [graph.nodes[k]["name"] for k in inst.current_nodes if k in graph.nodes],
            "my_task_id": mine.id if mine else None,
            "my_task_node": mine.node_name if mine else ""}
