"""Reading the workflow: the todo centre's lists, task and instance views, common phrases,
delegations, and the portal widgets. Blocking functions, each inside one unit of work.

The badge and the 待办 list come from ONE query builder (`todo_query`): `todo_count` is that
query's COUNT and `todo_list` pages through that same query, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

import peewee as pw

from app.audit.service import record
from app.core.context import RequestContext
from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.core.sql import Compiled, count_of, paginated, records, total_of, with_total
from app.org.models import User, user_names
from app.workflow import business, engine
from app.workflow.definition import Graph
from app.workflow.models import (
    ACTION_TITLES,
    INSTANCE_STATUS_TITLES,
    TASK_STATUS_TITLES,
    URGENCY_TITLES,
    Definition,
    Delegation,
    History,
    Instance,
    NodeRun,
    Phrase,
    Task,
)

PAGE_SIZE = 20
WIDGET_ROWS = 8  # what the portal's 我的待办 and 我的审批 show
MAX_PHRASES = 50


def _uid(ctx: RequestContext) -> int:
    if ctx.user_id is None:
        raise PermissionDenied(message="请先登录")
    return ctx.user_id


def overdue_condition(at: dt.datetime | None = None) -> pw.Expression:
    """Open and past its due time: the red rows, and the statistics' overdue count."""
    return (Task.status == "open") & Task.due_at.is_null(False) & (Task.due_at < (at or
                                                                                   engine.now()))


# ---- filters -----------------------------------------------------------------------------------
def _filters(raw: Mapping[str, Any]) -> dict[str, Any]:
    q = str(raw.get("q") or "").strip()[:100]
    urgency = str(raw.get("urgency") or "")
    if urgency and urgency not in {"0", "1", "2"}:
        raise ValidationError({"urgency": "紧急程度只能是：普通、加急、特急"})
    flow = str(raw.get("flow") or "").strip()[:40]
    status = str(raw.get("status") or "")
    overdue = str(raw.get("overdue") or "") in {"1", "true", "on"}
    try:
        page = max(1, min(10_000, int(raw.get("page") or 1)))
    except ValueError:
        raise ValidationError({"page": "页码必须是整数"}) from None
    return {"q": q, "urgency": int(urgency) if urgency else None, "flow": flow,
            "status": status, "overdue": overdue, "page": page}


_UNFILTERED = _filters({})  # compared with, never handed out (callers may change theirs)


def _instance_filters(query: pw.ModelSelect, f: dict[str, Any]) -> pw.ModelSelect:
    if f["q"]:
        query = query.where(Instance.title.contains(f["q"]))
    if f["urgency"] is not None:
        query = query.where(Instance.urgency == f["urgency"])
    if f["flow"]:
        query = query.where(Instance.flow_code == f["flow"])
    return query


# What the 我发起的 list shows of an instance: everything but its form (a JSON document per row that
# no list reads; fetching and decoding it cost more than the rest of the row).
_LISTED_INSTANCE = [f for f in Instance._meta.sorted_fields if f.name != "form"]


def _name_of(user_id: pw.Field) -> pw.ModelSelect:
    return User.select(User.name).where(User.id == user_id)


class ListedTask(NamedTuple):
    """A row of the task lists (待办, 已办, 传阅) as read from the database: what `_listed_item`
    shows, no more, as plain values (app.core.sql.records) on the most read pages there are."""

    id: int
    instance_id: int
    node_key: str
    node_name: str
    kind: str
    status: str
    action: str | None
    comment: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    acted_at: dt.datetime | None
    urge_count: int
    original_assignee_id: int | None
    title: str
    urgency: int
    flow_code: str
    business_type: str
    business_id: str
    business_reference: str
    initiator_id: int
    instance_status: str
    initiator_name: str | None
    delegated_from_name: str | None
    total_rows: int | None = None  # with_total's window count, on the pages that ask for it


# Each field's column. The two names are scalar subqueries, not joins, so that a page cut by
# LIMIT looks up only the names it shows (and a statement fewer on every list page).
_LISTED_COLUMNS: dict[str, Any] = {
    "id": Task.id, "instance_id": Task.instance_id, "node_key": Task.node_key,
    "node_name": Task.node_name, "kind": Task.kind, "status": Task.status,
    "action": Task.action, "comment": Task.comment, "created_at": Task.created_at,
    "due_at": Task.due_at, "acted_at": Task.acted_at, "urge_count": Task.urge_count,
    "original_assignee_id": Task.original_assignee_id,
    "title": Instance.title, "urgency": Instance.urgency, "flow_code": Instance.flow_code,
    "business_type": Instance.business_type, "business_id": Instance.business_id,
    "business_reference": Instance.business_reference, "initiator_id": Instance.initiator_id,
    "instance_status": Instance.status,
    "initiator_name": _name_of(Instance.initiator_id).alias("initiator_name"),
    "delegated_from_name": _name_of(Task.original_assignee_id).alias("delegated_from_name"),
}


def _with_instance() -> pw.ModelSelect:
    """The task lists' query: ListedTask's columns, in its order (with_total adds the last)."""
    columns = [_LISTED_COLUMNS[name] for name in ListedTask._fields if name != "total_rows"]
    return Task.select(*columns).join(Instance, on=(Instance.id == Task.instance_id))


def todo_query(user_id: int, f: dict[str, Any] | None = None) -> pw.ModelSelect:
    """My open tasks on running instances: THE query of the 待办 list and its badge."""
    f = f or _filters({})
    query = (_with_instance()
             .where((Task.assignee_id == user_id) & (Task.status == "open")
                    & (Task.kind != "circulate") & (Instance.status == "running")))
    query = _instance_filters(query, f)
    if f["overdue"]:
        query = query.where(overdue_condition())
    return query


# The badge and the unfiltered first page run on nearly every request: their SQL is made once
# (app.core.sql), from todo_query itself, so it cannot drift from the filtered lists.
_TODO_COUNT = Compiled(lambda user: count_of(todo_query(user)), user=int)
_TODO_ORDER = [Instance.urgency.desc(), Task.due_at.asc(nulls="LAST"), Task.created_at.desc()]
# the first page, by how many rows are wanted: the list's page, or the portal widget's few
_TODO_FIRST = {size: Compiled(lambda user, size=size: with_total(todo_query(user))
                              .order_by(*_TODO_ORDER).limit(size), user=int)
               for size in (PAGE_SIZE, WIDGET_ROWS)}


def todo_count(ctx: RequestContext) -> int:
    """The nav badge: the count of exactly the rows the 待办 list shows unfiltered."""
    return _TODO_COUNT.scalar(user=_uid(ctx))


def _task_item(task: Task | ListedTask, delegated_from: str, at: dt.datetime) -> dict[str, Any]:
    """A task as the lists and the instance and task pages show it; `delegated_from`: the name
    of whom it was delegated from, if it was."""
    return {
        "task_id": task.id, "instance_id": task.instance_id, "node_key": task.node_key,
        "node_name": task.node_name, "kind": task.kind, "status": task.status,
        "status_title": TASK_STATUS_TITLES.get(task.status, task.status),
        "action": task.action, "action_title": ACTION_TITLES.get(task.action or "", ""),
        "comment": task.comment, "created_at": task.created_at, "due_at": task.due_at,
        "acted_at": task.acted_at, "urge_count": task.urge_count,
        "overdue": bool(task.status == "open" and task.due_at and task.due_at < at),
        "delegated_from": delegated_from,
    }


def _delegated_from(task: Task, names: dict[int, str]) -> str:
    """The name for a task model's `delegated_from`, from the names its page has read."""
    return names.get(task.original_assignee_id or 0, "")


def _listed_item(row: ListedTask, at: dt.datetime) -> dict[str, Any]:
    """A row of a task list: the task, and the instance it belongs to."""
    return {
        **_task_item(row, row.delegated_from_name or "", at),
        "title": row.title, "urgency": row.urgency,
        "urgency_title": URGENCY_TITLES.get(row.urgency, "普通"),
        "flow_code": row.flow_code, "business_type": row.business_type,
        "business_id": row.business_id, "initiator": row.initiator_name or "",
        "instance_status": row.instance_status,
        "instance_status_title": INSTANCE_STATUS_TITLES.get(row.instance_status, ""),
    }


def _listed_rows(query: pw.ModelSelect) -> list[ListedTask]:
    return records(ListedTask, query)


def _page(query: pw.ModelSelect, f: dict[str, Any], order: list[Any],
          short: bool = False) -> tuple[list[ListedTask], int]:
    """A page and the total. For a `short` list (open todos: tens of rows) both come from one
    query with a window count, saving a round trip; a long one (a leader's 5000 done tasks)
    keeps an index-ordered LIMIT, and a COUNT when the page is full: 40 ms against 115-190."""
    if not short:
        return paginated(query.order_by(*order), f["page"], PAGE_SIZE, fetch=_listed_rows)
    rows = _listed_rows(with_total(query).order_by(*order).paginate(f["page"], PAGE_SIZE))
    return rows, total_of(rows, query, f["page"])


def _task_list(ctx: RequestContext, rows: list[ListedTask], total: int, f: dict[str, Any],
               audit_action: str) -> dict[str, Any]:
    at = engine.now()
    items = [_listed_item(r, at) for r in rows]
    business.attach(items, [r.business_reference for r in rows])
    record(ctx, audit_action, object_type="wf_task",
           details={"filters": {k: v for k, v in f.items() if v not in (None, "", False)},
                    "count": len(items)})
    return {"items": items, "total": total, "page": f["page"], "page_size": PAGE_SIZE,
            "pages": max(1, -(-total // PAGE_SIZE)), "filters": f}


_URGENT_FIRST = [Instance.urgency.desc()]  # as _TODO_ORDER begins


def todo_list(ctx: RequestContext, raw: Mapping[str, Any],
              first_rows: int = PAGE_SIZE) -> dict[str, Any]:
    """待办: urgency first, then the overdue and the soonest due. `first_rows`: how many rows
    the unfiltered first page holds (PAGE_SIZE, or WIDGET_ROWS for the portal)."""
    f = _filters(raw)
    unfiltered = not any(f[k] for k in ("q", "flow", "status", "overdue")) and f["urgency"] is None
    if unfiltered and f["page"] == 1:  # SQL made once; its window count is the total
        rows = _TODO_FIRST[first_rows].records(ListedTask, user=_uid(ctx))
        total = rows[0].total_rows if rows else 0
    else:
        rows, total = _page(todo_query(_uid(ctx), f), f, _TODO_ORDER, short=True)
    result = _task_list(ctx, rows, total, f, "workflow.todo.list")
    # the badge counts exactly the unfiltered list, so its total is the badge when unfiltered
    result["count"] = result["total"] if unfiltered else todo_count(ctx)
    return result


def done_list(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """已办: what I acted on (approved, returned, transferred…), newest first."""
    f = _filters(raw)
    query = (_with_instance()
             .where((Task.assignee_id == _uid(ctx)) & Task.status.in_(["done", "transferred"])
                    & (Task.kind != "circulate")))
    query = _instance_filters(query, f)
    if f["status"] in INSTANCE_STATUS_TITLES:
        query = query.where(Instance.status == f["status"])
    rows, total = _page(query, f, [Task.acted_at.desc(), Task.id.desc()])
    return _task_list(ctx, rows, total, f, "workflow.done.list")


def circulate_list(ctx: RequestContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    """传阅: circulation copies sent to me; unread first."""
    f = _filters(raw)
    query = (_with_instance()
             .where((Task.assignee_id == _uid(ctx)) & (Task.kind == "circulate")
                    & Task.status.in_(["open", "done"])))
    query = _instance_filters(query, f)
    if f["status"] == "unread":
        query = query.where(Task.status == "open")
    elif f["status"] == "read":
        query = query.where(Task.status == "done")
    order = [Task.status.desc(), *_URGENT_FIRST, Task.created_at.desc()]
    rows, total = _page(query, f, order)
    return _task_list(ctx, rows, total, f, "workflow.circulate.list")


def mine_query(user_id: int) -> pw.ModelSelect:
    return Instance.select(*_LISTED_INSTANCE).where(Instance.initiator_id == user_id)


_MINE_ORDER = [(Instance.status == "running").desc(), Instance.urgency.desc(),
               Instance.started_at.desc()]
_MINE_COUNT = Compiled(lambda user: count_of(mine_query(user)), user=int)
_MINE_FIRST = {size: Compiled(lambda user, size=size: mine_query(user).order_by(*_MINE_ORDER)
                              .limit(size), user=int)
               for size in (PAGE_SIZE, WIDGET_ROWS)}


def mine_list(ctx: RequestContext, raw: Mapping[str, Any],
              first_rows: int = PAGE_SIZE) -> dict[str, Any]:
    """我发起的: instances I started, running first, urgency first (`first_rows`: as in
    todo_list)."""
    f = _filters(raw)
    if f == _UNFILTERED:  # the portal widget and the tab as first opened: SQL made once
        total = _MINE_COUNT.scalar(user=_uid(ctx))
        rows = _MINE_FIRST[first_rows].rows(user=_uid(ctx))
    else:
        query = _instance_filters(mine_query(_uid(ctx)), f)
        if f["status"] in INSTANCE_STATUS_TITLES:
            query = query.where(Instance.status == f["status"])
        total = query.count()
        rows = list(query.order_by(*_MINE_ORDER).paginate(f["page"], PAGE_SIZE))
    graphs = engine.graphs_of(i.definition_id for i in rows)
    items = [_instance_item(i, graphs[i.definition_id]) for i in rows]
    business.attach(items, [i.business_reference for i in rows])
    record(ctx, "workflow.mine.list", object_type="wf_instance",
           details={"count": len(items)})
    return {"items": items, "total": total, "page": f["page"], "page_size": PAGE_SIZE,
            "pages": max(1, -(-total // PAGE_SIZE)), "filters": f}


def _instance_item(inst: Instance, graph: Graph) -> dict[str, Any]:
    return {"instance_id": inst.id, "title": inst.title, "flow_code": inst.flow_code,
            "flow_name": graph.data.get("name", inst.flow_code),
            "business_type": inst.business_type, "business_id": inst.business_id,
            "urgency": inst.urgency, "urgency_title": URGENCY_TITLES.get(inst.urgency, "普通"),
            "status": inst.status, "status_title": INSTANCE_STATUS_TITLES[inst.status],
            "current": [graph.nodes[k]["name"] for k in inst.current_nodes
                        if k in graph.nodes],
            "started_at": inst.started_at, "finished_at": inst.finished_at}


# ---- one instance / one task ---------------------------------------------------------------------
def _history_items(rows: list[History], names: dict[int, str]) -> list[dict[str, Any]]:
    return [{"at": r.created_at, "actor": names.get(r.actor_id or 0, "系统"),
             "actor_id": r.actor_id, "action": r.action,
             "action_title": ACTION_TITLES.get(r.action, r.action), "node_name": r.node_name,
             "node_key": r.node_key, "comment": r.comment, "ip": r.ip, "details": r.details}
            for r in rows]


def node_states(inst: Instance) -> dict[str, str]:
    """node key -> done / current / rejected, for the diagram (others are pending)."""
    states: dict[str, str] = {}
    for run in NodeRun.select().where(NodeRun.instance_id == inst.id).order_by(NodeRun.id):
        if run.status == "done":
            states[run.node_key] = "done"
        elif run.status == "rejected":
            states[run.node_key] = "rejected"
        elif run.status == "cancelled" and states.get(run.node_key) == "current":
            states.pop(run.node_key)
    for key in inst.current_nodes:
        states[key] = "current"
    return states


def instance_view(ctx: RequestContext, instance_id: int) -> dict[str, Any]:
    inst = engine.visible_instance(ctx, instance_id)
    return _instance_view(ctx, inst, engine.graph_of(inst.definition_id))[0]


_INSTANCE_TASKS = Compiled(lambda inst: Task.select().where(Task.instance_id == inst)
                           .order_by(Task.id), inst=int)
_INSTANCE_HISTORY = Compiled(lambda inst: History.select().where(History.instance_id == inst)
                             .order_by(History.id), inst=int)
_CHILDREN = Compiled(lambda inst: Instance.select(Instance.id)
                     .where(Instance.parent_instance_id == inst).order_by(Instance.id), inst=int)


def _instance_view(ctx: RequestContext, inst: Instance,
                   graph: Graph) -> tuple[dict[str, Any], dict[int, str]]:
    """The instance page's data, and the names of everyone in it (its tasks, its history)."""
    tasks = _INSTANCE_TASKS.rows(inst=inst.id)
    history = _INSTANCE_HISTORY.rows(inst=inst.id)
    names = user_names({t.assignee_id for t in tasks} | {t.original_assignee_id for t in tasks}
                       | {r.actor_id for r in history} | {inst.initiator_id})
    at = engine.now()
    head = engine.heads().get(inst.definition_id)
    item = _instance_item(inst, graph)
    business.attach([item], [inst.business_reference])
    view = {
        **item,
        "initiator": names.get(inst.initiator_id, ""), "initiator_id": inst.initiator_id,
        "version": head.version if head else None, "form": inst.form,
        "fields": list(graph.fields.values()),
        "history": _history_items(history, names),
        "tasks": [{**_task_item(t, _delegated_from(t, names), at),
                   "assignee": names.get(t.assignee_id, ""),
                   "assignee_id": t.assignee_id} for t in tasks if t.kind != "circulate"],
        "receipts": [{"task_id": t.id, "reader": names.get(t.assignee_id, ""),
                      "read_at": t.acted_at, "sent_at": t.created_at,
                      "read": t.status == "done"} for t in tasks if t.kind == "circulate"],
        "can_urge": inst.status == "running" and (
            inst.initiator_id == ctx.user_id or engine.monitors(ctx, inst)
            or any(t.assignee_id == ctx.user_id and t.status == "done" for t in tasks)),
        "can_terminate": inst.status == "running" and engine.monitors(ctx, inst),
        "recallable": _recallable(inst, tasks, ctx.user_id),
        "parent_instance_id": inst.parent_instance_id,
        "children": [row[0] for row in _CHILDREN.execute(inst=inst.id).fetchall()],
    }
    record(ctx, "workflow.instance.read", object_type="wf_instance", object_id=inst.id)
    return view, names


def _recallable(inst: Instance, tasks: list[Task], user_id: int | None) -> int | None:
    """My most recent task that 撤回 would take back now, if any."""
    mine = [t for t in tasks if t.assignee_id == user_id and t.status == "done"
            and t.action in {"approve", "submit"}]
    for task in sorted(mine, key=lambda t: t.acted_at or t.created_at, reverse=True)[:1]:
        if engine.recall_problem(inst, task) is None:
            return task.id
    return None


def task_view(ctx: RequestContext, task_id: int) -> dict[str, Any]:
    task = engine.find_task(task_id)
    if task is None:
        raise NotFound("待办不存在")
    inst = engine.visible_instance(ctx, task.instance_id, holds_task=ctx.user_id in (
        task.assignee_id, task.original_assignee_id))
    graph = engine.graph_of(inst.definition_id)
    view, names = _instance_view(ctx, inst, graph)
    mine = task.assignee_id == ctx.user_id
    is_open = mine and task.status == "open" and (inst.status == "running"
                                                  or task.kind == "circulate")
    node = graph.nodes.get(task.node_key, {})
    operations = []
    if is_open and task.kind == "circulate":
        operations = ["read"]
    elif is_open and task.kind == "draft":
        operations = ["approve", "transfer"]
    elif is_open and task.kind == "addsign":
        operations = ["approve", "reject", "transfer"]
    elif is_open:
        operations = ["approve", "reject", "return", "transfer", "addsign"]
    editable = [] if not is_open or task.kind == "circulate" else (
        [f for f in graph.fields.values() if f["key"] not in _opinions(graph)]
        if task.kind == "draft" else
        [graph.fields[k] for k in node.get("editable", []) if k in graph.fields])
    view["task"] = {
        **_task_item(task, _delegated_from(task, names), engine.now()),
        "mine": mine, "operations": operations,
        "assignee": names.get(task.assignee_id, ""),
        "return_targets": (engine.return_targets(inst, graph, NodeRun.get_by_id(task.run_id))
                           if "return" in operations else []),
        "editable": editable, "node": node,
    }
    view["phrases"] = [p["text"] for p in list_phrases(ctx)] if is_open else []
    return view


def _opinions(graph) -> set[str]:
    from app.workflow.forms import opinion_fields

    return opinion_fields(graph)


# ---- common phrases (常用意见) ------------------------------------------------------------------
DEFAULT_PHRASES = ("同意。", "拟同意，请领导审批。", "请按规定办理。", "已阅。")


_PHRASES = Compiled(lambda user: Phrase.select().where(Phrase.user_id == user)
                    .order_by(Phrase.sort_order, Phrase.id), user=int)  # every task page


def list_phrases(ctx: RequestContext) -> list[dict[str, Any]]:
    rows = _PHRASES.rows(user=_uid(ctx))
    if not rows:
        return [{"id": None, "text": text} for text in DEFAULT_PHRASES]
    return [{"id": p.id, "text": p.text} for p in rows]


def add_phrase(ctx: RequestContext, text: str) -> dict[str, Any]:
    user_id = _uid(ctx)
    text = (text or "").strip()
    if not text or len(text) > 200 or "\n" in text:
        raise ValidationError({"text": "常用意见应为1至200个字符的一行文字"})
    if Phrase.select().where(Phrase.user_id == user_id).count() >= MAX_PHRASES:
        raise ValidationError({"text": f"常用意见最多{MAX_PHRASES}条"})
    order = (Phrase.select(pw.fn.MAX(Phrase.sort_order)).where(Phrase.user_id == user_id)
             .scalar() or 0) + 1
    Phrase.insert(user_id=user_id, text=text, sort_order=order,
                  created_at=engine.now()).on_conflict_ignore().execute()
    record(ctx, "workflow.phrase.add", object_type="wf_phrase")
    return {"text": text}


def delete_phrase(ctx: RequestContext, phrase_id: int) -> None:
    deleted = Phrase.delete().where((Phrase.id == phrase_id)
                                    & (Phrase.user_id == _uid(ctx))).execute()
    if not deleted:
        raise NotFound("常用意见不存在")
    record(ctx, "workflow.phrase.delete", object_type="wf_phrase", object_id=phrase_id)


# ---- delegation (委托) --------------------------------------------------------------------------
def list_delegations(ctx: RequestContext) -> list[dict[str, Any]]:
    user_id = _uid(ctx)
    rows = list(Delegation.select().where((Delegation.user_id == user_id)
                                          | (Delegation.delegate_id == user_id))
                .order_by(Delegation.start_date.desc(), Delegation.id.desc()))
    names = user_names({r.user_id for r in rows} | {r.delegate_id for r in rows})
    today = engine.today()
    record(ctx, "workflow.delegation.list", object_type="wf_delegation")
    return [{"id": r.id, "user": names.get(r.user_id, ""), "delegate": names.get(r.delegate_id, ""),
             "mine": r.user_id == user_id, "start_date": r.start_date, "end_date": r.end_date,
             "flow_code": r.flow_code, "reason": r.reason, "revoked": r.revoked_at is not None,
             "active": r.revoked_at is None and r.start_date <= today <= r.end_date}
            for r in rows]


def create_delegation(ctx: RequestContext, data: Mapping[str, Any]) -> dict[str, Any]:
    """Delegate my new tasks to someone for a date range (one flow, or every flow)."""
    user_id = _uid(ctx)
    errors: dict[str, str] = {}
    delegate = data.get("delegate_id")
    start, end = data.get("start_date"), data.get("end_date")
    if delegate == user_id:
        errors["delegate_id"] = "不能委托给自己"
    elif not User.select().where((User.id == delegate) & (User.status == "active")).exists():
        errors["delegate_id"] = "被委托人不存在或已停用"
    if start and end and end < start:
        errors["end_date"] = "结束日期不能早于开始日期"
    if end and end < engine.today():
        errors["end_date"] = "结束日期不能早于今天"
    if start and end and (end - start).days > 366:
        errors["end_date"] = "委托期限最长一年"
    flow = str(data.get("flow_code") or "")
    if flow and not Definition.select().where(Definition.code == flow).exists():
        errors["flow_code"] = "流程不存在"
    if errors:
        raise ValidationError(errors)
    row = Delegation.create(user_id=user_id, delegate_id=delegate, start_date=start,
                            end_date=end, flow_code=flow, reason=data.get("reason") or "",
                            created_at=engine.now())
    record(ctx, "workflow.delegation.create", object_type="wf_delegation", object_id=row.id,
           details={"delegate_id": delegate, "start": str(start), "end": str(end),
                    "flow": flow})
    return {"id": row.id}


def revoke_delegation(ctx: RequestContext, delegation_id: int) -> None:
    changed = (Delegation.update(revoked_at=engine.now())
               .where((Delegation.id == delegation_id) & (Delegation.user_id == _uid(ctx))
                      & Delegation.revoked_at.is_null()).execute())
    if not changed:
        raise NotFound("委托不存在或已撤销")
    record(ctx, "workflow.delegation.revoke", object_type="wf_delegation",
           object_id=delegation_id)


def published_flows() -> list[dict[str, str]]:
    """The flows one can filter the lists by (on every todo page: from the kept heads)."""
    flows = {(h.code, h.name) for h in engine.heads().values() if h.status == "published"}
    return [{"code": code, "name": name} for code, name in sorted(flows)]


def people(ctx: RequestContext, ids: list[Any]) -> list[dict[str, Any]]:
    """Id and name of these users, for a people picker shown with its choice kept (ids as the
    form sent them; anything that is not an id is left out)."""
    _uid(ctx)
    wanted = [int(i) for i in ids if str(i).isdigit()]
    names = user_names(wanted)
    return [{"id": i, "name": names[i]} for i in wanted if i in names]


# ---- portal widgets ---------------------------------------------------------------------------
def widget_todo(ctx: RequestContext) -> dict[str, Any]:
    data = todo_list(ctx, {}, first_rows=WIDGET_ROWS)
    return {"items": data["items"], "count": data["total"]}


def widget_my_approvals(ctx: RequestContext) -> dict[str, Any]:
    data = mine_list(ctx, {}, first_rows=WIDGET_ROWS)
    return {"items": data["items"], "count": data["total"]}
