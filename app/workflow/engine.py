"""The runtime: instances move through their flow version's graph.

Every public function is blocking and runs inside the caller's unit of work (one
transaction). Each operation on an instance first locks its row (SELECT … FOR UPDATE), so the
operations of one instance are serialised; the task itself is then closed with a conditional
`UPDATE … WHERE status = 'open'`, so two people acting on the same task cannot both succeed:
the second gets a Conflict ("该待办已被处理").

Vocabulary: a *node run* is one activation of a node (entered, then done / cancelled /
rejected); tasks belong to a run. `source_task_id` on runs and tasks names the task whose
completion caused them: that is what 撤回 (recall) follows back.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import peewee as pw

from app.audit.service import record
from app.core import events
from app.core.context import RequestContext
from app.core.db import database, execute_prepared
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.features import Scope
from app.core.generation import Kept
from app.core.sql import Compiled, row_by_key
from app.org.models import User
from app.workflow import assignees
from app.workflow import forms as wf_forms
from app.workflow.definition import DEFAULT_DEADLINE_HOURS, Graph
from app.workflow.models import (
    URGENCY_TITLES,
    Definition,
    History,
    Instance,
    NodeRun,
    Task,
)
from app.workflow.system import SystemStep, handler_for

MONITOR = "workflow.monitor"
NOTIFY_CHANNEL = "oa_todo"
MAX_STEPS = 500  # automatic steps in one operation: a loop of gateways cannot run forever

INSTANCE_STARTED = "workflow.instance.started"  # instance_id, business_type, business_id
TASK_CREATED = "workflow.task.created"  # task_id, instance_id, assignee_id, node_key, ...
TASK_COMPLETED = "workflow.task.completed"  # task_id, instance_id, action, actor_id, node_key
NODE_ENTERED = "workflow.node.entered"  # instance_id, node_key, node_type, business_type/_id
INSTANCE_FINISHED = "workflow.instance.finished"  # instance_id, business_type, business_id
INSTANCE_TERMINATED = "workflow.instance.terminated"  # instance_id, business_type/_id, reason
TASK_URGED = "workflow.task.urged"  # task_id, instance_id, assignee_id, urged_by
TASK_RECALLED = "workflow.task.recalled"  # task_id, instance_id, node_key, business_type/_id


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    from zoneinfo import ZoneInfo

    from app.core.config import settings

    return now().astimezone(ZoneInfo(settings().time_zone)).date()


# ---- loading ------------------------------------------------------------------------------------
class _GraphCache:
    """Parsed graphs of PUBLISHED versions, which a trigger makes immutable.

    The key holds what identifies a version beyond its id (code, version, published_at): a
    database whose ids were reused (truncated tests, a restored copy) can never be served the
    graph another version had under the same id. Drafts change, so they are never cached."""

    LIMIT = 256

    def __init__(self) -> None:
        self._graphs: OrderedDict[tuple, Graph] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Graph | None:
        with self._lock:
            graph = self._graphs.get(key)
            if graph is not None:
                self._graphs.move_to_end(key)
            return graph

    def put(self, key: tuple, graph: Graph) -> None:
        with self._lock:
            self._graphs[key] = graph
            while len(self._graphs) > self.LIMIT:
                self._graphs.popitem(last=False)


_graph_cache = _GraphCache()


@dataclass(frozen=True)
class Head:
    """What identifies a flow version, without its graph."""

    id: int
    code: str
    name: str
    version: int
    status: str
    published_at: dt.datetime | None


def _read_heads() -> dict[int, Head]:
    query = Definition.select(Definition.id, Definition.code, Definition.name, Definition.version,
                              Definition.status, Definition.published_at).tuples()
    return {row[0]: Head(*row) for row in query}


_kept_heads = Kept("workflow", _read_heads)


def heads() -> dict[int, Head]:
    """Every flow version by id, kept per process under the "workflow" stamp (read-only)."""
    return _kept_heads.get()


def graphs_of(definition_ids: Iterable[int]) -> dict[int, Graph]:
    """The graphs of these flow versions: the kept heads say which are published and cached;
    one query reads the others (a page of instances costs at most one, not one per instance)."""
    known = heads()
    keys = {i: (i, h.code, h.version, h.published_at) for i in set(definition_ids)
            if (h := known.get(i)) is not None}
    found: dict[int, Graph] = {}
    for definition_id, key in keys.items():
        cached = _graph_cache.get(key) if known[definition_id].status == "published" else None
        if cached is not None:
            found[definition_id] = cached
    missing = set(keys) - set(found)
    if missing:
        for definition_id, data in (Definition.select(Definition.id, Definition.graph)
                                    .where(Definition.id.in_(missing)).tuples()):
            found[definition_id] = Graph(data)
            if known[definition_id].status == "published":
                _graph_cache.put(keys[definition_id], found[definition_id])
    return found


def graph_of(definition_id: int) -> Graph:
    """The graph of an instance's flow version."""
    graph = graphs_of([definition_id]).get(definition_id)
    if graph is None:
        raise NotFound("流程定义不存在")
    return graph


def latest_published(code: str) -> Head:
    """The newest published version of a flow, from the kept heads."""
    found = max((h for h in heads().values() if h.code == code and h.status == "published"),
                key=lambda h: h.version, default=None)
    if found is None:
        raise NotFound(f"流程“{code}”不存在或尚未发布")
    return found


# the lookups by id behind every task page and action, their SQL made once (app.core.sql)
_TASK = Compiled(lambda task: Task.select().where(Task.id == task), task=int)
_TASK_LOCKED = Compiled(lambda task: Task.select().where(Task.id == task).for_update(), task=int)
_INSTANCE = Compiled(lambda inst: Instance.select().where(Instance.id == inst), inst=int)
_INSTANCE_LOCKED = Compiled(
    lambda inst: Instance.select().where(Instance.id == inst).for_update(), inst=int)


def find_task(task_id: int) -> Task | None:
    return _TASK.first(task=task_id)


def find_instance(instance_id: int) -> Instance | None:
    return _INSTANCE.first(inst=instance_id)


def lock_instance(instance_id: int) -> Instance:
    found = _INSTANCE_LOCKED.first(inst=instance_id)
    if found is None:
        raise NotFound("流程实例不存在")
    return found


def _lock_task(task_id: int) -> tuple[Task, Instance]:
    """A task and its instance, both locked: the instance first, as every operation does."""
    found = find_task(task_id)
    if found is None:
        raise NotFound("待办不存在")
    inst = lock_instance(found.instance_id)
    return _TASK_LOCKED.first(task=task_id), inst


def _actor(ctx: RequestContext) -> int:
    if ctx.user_id is None:
        raise PermissionDenied(message="请先登录")
    return ctx.user_id


# ---- history, notifications ---------------------------------------------------------------------
def _history(ctx: RequestContext, inst: Instance, action: str, *, task: Task | None = None,
             node: dict[str, Any] | None = None, comment: str = "",
             details: dict[str, Any] | None = None) -> None:
    History.create(instance_id=inst.id, task_id=task.id if task else None,
                   node_key=(task.node_key if task else (node or {}).get("key", "")),
                   node_name=(task.node_name if task else (node or {}).get("name", "")),
                   actor_id=ctx.user_id, action=action, comment=comment,
                   details=details or {}, ip=ctx.ip or "", created_at=now())


def _notify(user_id: int, kind: str, task_id: int | None = None) -> None:
    """Cross-process push (LISTEN oa_todo): ids only, never content; sent at commit."""
    payload = json.dumps({"user": user_id, "kind": kind, "task": task_id})
    database.execute_sql("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))


# ---- delegation ---------------------------------------------------------------------------------
class ActiveDelegation(NamedTuple):
    id: int
    delegate_id: int


# Looked up for every task created (each step of every flow): the user's delegation for this
# flow first, else one for every flow. Fixed text, prepared: peewee built it anew each time.
_ACTIVE_DELEGATION = (
    "SELECT id, delegate_id FROM wf_delegation"
    " WHERE user_id = %(user)s AND revoked_at IS NULL AND start_date <= %(on)s"
    " AND end_date >= %(on)s AND flow_code IN ('', %(flow)s)"
    " ORDER BY flow_code DESC, id DESC LIMIT 1")


def active_delegation(user_id: int, flow_code: str,
                      on: dt.date | None = None) -> ActiveDelegation | None:
    """The delegation in force for `user_id`'s tasks of `flow_code` on `on` (today)."""
    row = execute_prepared(_ACTIVE_DELEGATION, {"user": user_id, "on": on or today(),
                                                "flow": flow_code}).fetchone()
    return None if row is None else ActiveDelegation(*row)


# ---- tasks ------------------------------------------------------------------------------------
def _due_at(inst: Instance, node: dict[str, Any], start: dt.datetime) -> dt.datetime | None:
    urgency = URGENCY_TITLES.get(inst.urgency, "普通")
    hours = (node.get("deadline_hours") or {}).get(urgency) or DEFAULT_DEADLINE_HOURS[urgency]
    return start + dt.timedelta(hours=float(hours))


def create_task(ctx: RequestContext, inst: Instance, run: NodeRun, node: dict[str, Any],
                user_id: int, *, kind: str = "approve", seq: int = 0,
                source_task_id: int | None = None, parent_task_id: int | None = None,
                add_position: str | None = None, due_at: dt.datetime | None = None) -> Task:
    created = now()
    assignee, original, delegation_id = user_id, None, None
    delegation = active_delegation(user_id, inst.flow_code)
    if delegation is not None:
        assignee, original, delegation_id = delegation.delegate_id, user_id, delegation.id
    task = Task.create(instance_id=inst.id, run_id=run.id, node_key=node["key"],
                       node_name=node["name"], kind=kind, assignee_id=assignee,
                       original_assignee_id=original, delegation_id=delegation_id,
                       status="open", seq=seq, source_task_id=source_task_id,
                       parent_task_id=parent_task_id, add_position=add_position,
                       created_at=created,
                       due_at=due_at or (None if kind == "circulate"
                                         else _due_at(inst, node, created)))
    _notify(assignee, "task", task.id)
    events.publish(TASK_CREATED, ctx, task_id=task.id, instance_id=inst.id, assignee_id=assignee,
                   original_assignee_id=original, node_key=node["key"], kind=kind,
                   business_type=inst.business_type, business_id=inst.business_id)
    return task


# Every action closes its task: fixed text, prepared (peewee built it anew each time).
_CLOSE_TASK = ("UPDATE wf_task SET status = %(status)s, action = %(action)s,"
               " comment = %(comment)s, acted_at = %(at)s"
               " WHERE id = %(id)s AND status = %(was)s")


def _close_task(task: Task, status: str, action: str, comment: str = "") -> None:
    """Conditional close: exactly one actor wins a task, the others get a Conflict."""
    changed = execute_prepared(_CLOSE_TASK, {
        "status": status, "action": action, "comment": comment, "at": now(), "id": task.id,
        "was": task.status}).rowcount
    if changed != 1:
        raise Conflict("该待办已被他人处理或已撤销，请刷新后查看")
    task.status, task.action, task.comment = status, action, comment


def _cancel_tasks(query_filter, action: str) -> None:
    (Task.update(status="cancelled", action=action, acted_at=now())
     .where(query_filter & Task.status.in_(["open", "waiting"]))).execute()


def _task_completed(ctx: RequestContext, inst: Instance, task: Task) -> None:
    events.publish(TASK_COMPLETED, ctx, task_id=task.id, instance_id=inst.id, action=task.action,
                   actor_id=ctx.user_id, node_key=task.node_key, comment=task.comment,
                   business_type=inst.business_type, business_id=inst.business_id)


# ---- moving through the graph -------------------------------------------------------------------
class _Walk:
    """One operation's automatic progress: counts steps to stop runaway loops."""

    def __init__(self, ctx: RequestContext, inst: Instance, graph: Graph) -> None:
        self.ctx, self.inst, self.graph = ctx, inst, graph
        self.steps = 0

    def leave(self, key: str, *, source_task_id: int | None, prev_human: str | None,
              previous_actor: int | None) -> None:
        """Follow every edge out of `key` (a split: all; others: their one edge)."""
        for target in self.graph.successors(key):
            if self.inst.status != "running":
                return
            self.enter(target, came_from=key, source_task_id=source_task_id,
                       prev_human=prev_human, previous_actor=previous_actor)

    def enter(self, key: str, *, came_from: str | None, source_task_id: int | None,
              prev_human: str | None, previous_actor: int | None) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ValidationError(message="流程定义存在没有人工环节的循环，无法继续流转")
        node = self.graph.node(key)
        kind = node["type"]
        events.publish(NODE_ENTERED, self.ctx, instance_id=self.inst.id, node_key=key,
                       node_type=kind, business_type=self.inst.business_type,
                       business_id=self.inst.business_id)
        if kind == "join":
            self._join(node, came_from, source_task_id, prev_human, previous_actor)
            return
        run = NodeRun.create(instance_id=self.inst.id, node_key=key, node_type=kind,
                             status="active", prev_node=prev_human,
                             source_task_id=source_task_id, entered_at=now())
        follow = dict(source_task_id=source_task_id, prev_human=prev_human,
                      previous_actor=previous_actor)
        if kind == "end":
            self._done(run)
            finish_instance(self.ctx, self.inst)
        elif kind in {"task", "start"}:
            self._start_task_node(run, node, source_task_id, previous_actor)
        elif kind == "circulate":
            for user_id in self._handlers(node, previous_actor):
                create_task(self.ctx, self.inst, run, node, user_id, kind="circulate",
                            source_task_id=source_task_id)
            self._done(run)
            self.leave(key, **follow)
        elif kind == "system":
            self._system(run, node)
            self.leave(key, **follow)
        elif kind == "gateway":
            target = self._choose(node)
            self._done(run)
            self.enter(target, came_from=key, **follow)
        elif kind == "split":
            self._done(run)
            self.leave(key, **follow)
        elif kind == "subflow":
            self._subflow(run, node)

    def _done(self, run: NodeRun) -> None:
        run.status, run.left_at = "done", now()
        run.save()

    def _handlers(self, node: dict[str, Any], previous_actor: int | None) -> list[int]:
        users = assignees.resolve(node["handlers"], initiator_id=self.inst.initiator_id,
                                  initiator_dept_id=self.inst.initiator_dept_id,
                                  previous_actor_id=previous_actor, form=self.inst.form)
        if not users:
            raise ValidationError(message=f"环节“{node['name']}”找不到处理人，请联系流程管理员")
        return users

    def _start_task_node(self, run: NodeRun, node: dict[str, Any], source_task_id: int | None,
                         previous_actor: int | None, users: list[int] | None = None) -> None:
        if node["type"] == "start":
            users, kind = [self.inst.initiator_id], "draft"
        else:
            users, kind = users or self._handlers(node, previous_actor), "approve"
        run.handlers = users
        run.save()
        first = users[:1] if node.get("mode") == "sequential" else users
        for seq, user_id in enumerate(first):
            create_task(self.ctx, self.inst, run, node, user_id, kind=kind, seq=seq,
                        source_task_id=source_task_id)

    def _choose(self, node: dict[str, Any]) -> str:
        from app.workflow import expressions

        default = None
        for edge in self.graph.outgoing.get(node["key"], []):
            if edge["default"]:
                default = edge["to"]
            elif expressions.check(edge["condition"], self.inst.form):
                return edge["to"]
        if default is None:
            raise ValidationError(message=f"条件分支“{node['name']}”没有满足条件的去向，"
                                          "请检查表单内容或联系流程管理员")
        return default

    def _join(self, node: dict[str, Any], came_from: str | None, source_task_id: int | None,
              prev_human: str | None, previous_actor: int | None) -> None:
        run = (NodeRun.select().where((NodeRun.instance_id == self.inst.id)
                                      & (NodeRun.node_key == node["key"])
                                      & (NodeRun.status == "active")).first())
        if run is None:
            run = NodeRun.create(instance_id=self.inst.id, node_key=node["key"],
                                 node_type="join", status="active", entered_at=now(),
                                 source_task_id=source_task_id, arrivals={})
        arrivals = dict(run.arrivals or {})
        arrivals[came_from or ""] = source_task_id
        run.arrivals = arrivals
        run.prev_node = prev_human
        run.save()
        if len(arrivals) >= len(self.graph.incoming.get(node["key"], [])):
            self._done(run)
            self.leave(node["key"], source_task_id=source_task_id, prev_human=prev_human,
                       previous_actor=previous_actor)

    def _system(self, run: NodeRun, node: dict[str, Any]) -> None:
        handler = handler_for(self.inst.business_type, node["action"])
        if handler is None:
            raise ValidationError(message=f"系统环节“{node['name']}”（{node['action']}）"
                                          f"没有注册处理程序（业务类型 {self.inst.business_type}）")
        step = SystemStep(ctx=self.ctx, instance_id=self.inst.id, flow_code=self.inst.flow_code,
                          business_type=self.inst.business_type,
                          business_id=self.inst.business_id, node_key=node["key"],
                          node_name=node["name"], action=node["action"],
                          urgency=self.inst.urgency, initiator_id=self.inst.initiator_id,
                          form=dict(self.inst.form))
        updates = handler(step) or {}
        if updates:
            self.inst.form = {**self.inst.form, **updates}
            self.inst.save()
        _history(self.ctx, self.inst, "system", node=node,
                 details={"action": node["action"], "updates": sorted(updates)})
        self._done(run)

    def _subflow(self, run: NodeRun, node: dict[str, Any]) -> None:
        definition = latest_published(node["flow"])
        child = _create_instance(self.ctx, definition, title=self.inst.title,
                                 business_type=self.inst.business_type,
                                 business_id=self.inst.business_id, urgency=self.inst.urgency,
                                 form=dict(self.inst.form), initiator_id=self.inst.initiator_id,
                                 initiator_dept_id=self.inst.initiator_dept_id,
                                 parent=(self.inst.id, run.id))
        _history(self.ctx, self.inst, "subflow", node=node,
                 details={"child_instance_id": child.id, "flow": node["flow"]})
        _begin(self.ctx, child, submit_comment="")


_ACTIVE_RUNS = Compiled(lambda inst: NodeRun.select(NodeRun.node_key).where(
    (NodeRun.instance_id == inst) & (NodeRun.status == "active")).order_by(NodeRun.id), inst=int)


def refresh_current(inst: Instance) -> None:
    keys = [r.node_key for r in _ACTIVE_RUNS.rows(inst=inst.id)]
    inst.current_nodes = list(dict.fromkeys(keys))
    inst.updated_at = now()
    inst.save()


def finish_instance(ctx: RequestContext, inst: Instance) -> None:
    """An end node was reached: close what is left (circulation stays readable)."""
    _cancel_tasks((Task.instance_id == inst.id) & (Task.kind != "circulate"), "finished")
    (NodeRun.update(status="cancelled", left_at=now())
     .where((NodeRun.instance_id == inst.id) & (NodeRun.status == "active"))).execute()
    inst.status, inst.finished_at, inst.current_nodes = "finished", now(), []
    inst.save()
    _history(ctx, inst, "finish")
    events.publish(INSTANCE_FINISHED, ctx, instance_id=inst.id, business_type=inst.business_type,
                   business_id=inst.business_id, flow_code=inst.flow_code)
    _notify(inst.initiator_id, "finished")
    if inst.parent_instance_id:
        _resume_parent(ctx, inst)


def _resume_parent(ctx: RequestContext, child: Instance) -> None:
    parent = lock_instance(child.parent_instance_id)
    run = NodeRun.get_or_none(NodeRun.id == child.parent_run_id)
    if parent.status != "running" or run is None or run.status != "active":
        return
    parent.form = {**parent.form, **child.form}
    parent.save()
    run.status, run.left_at = "done", now()
    run.save()
    walk = _Walk(ctx, parent, graph_of(parent.definition_id))
    walk.leave(run.node_key, source_task_id=None, prev_human=run.prev_node,
               previous_actor=child.initiator_id)
    refresh_current(parent)


# ---- starting -----------------------------------------------------------------------------------
def _create_instance(ctx: RequestContext, definition: Head, *, title: str,
                     business_type: str, business_id: str, urgency: int, form: dict[str, Any],
                     initiator_id: int, initiator_dept_id: int | None,
                     parent: tuple[int, int] | None = None) -> Instance:
    created = now()
    return Instance.create(definition=definition.id, flow_code=definition.code,
                           business_type=business_type, business_id=business_id, title=title,
                           urgency=urgency, form=form, initiator_id=initiator_id,
                           initiator_dept_id=initiator_dept_id, status="running",
                           current_nodes=[], parent_instance_id=parent[0] if parent else None,
                           parent_run_id=parent[1] if parent else None, started_at=created,
                           updated_at=created)


def _begin(ctx: RequestContext, inst: Instance, submit_comment: str) -> Task:
    """The start node: the drafter's submission is a done task (so it can be recalled)."""
    graph = graph_of(inst.definition_id)
    start = graph.start
    run = NodeRun.create(instance_id=inst.id, node_key=start["key"], node_type="start",
                         status="done", handlers=[inst.initiator_id], entered_at=now(),
                         left_at=now())
    task = Task.create(instance_id=inst.id, run_id=run.id, node_key=start["key"],
                       node_name=start["name"], kind="draft", assignee_id=inst.initiator_id,
                       status="done", action="submit", comment=submit_comment,
                       created_at=now(), acted_at=now())
    _history(ctx, inst, "submit", task=task, comment=submit_comment)
    events.publish(INSTANCE_STARTED, ctx, instance_id=inst.id, business_type=inst.business_type,
                   business_id=inst.business_id, flow_code=inst.flow_code)
    walk = _Walk(ctx, inst, graph)
    walk.leave(start["key"], source_task_id=task.id, prev_human=start["key"],
               previous_actor=inst.initiator_id)
    refresh_current(inst)
    return task


def start(ctx: RequestContext, flow_code: str, *, title: str, business_type: str = "workflow",
          business_id: str = "", urgency: int = 0, form: dict[str, Any] | None = None,
          comment: str = "") -> dict[str, Any]:
    """Submit: start an instance on the latest published version of `flow_code`."""
    actor = _actor(ctx)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise ValidationError({"title": "请填写标题（不超过200个字符）"})
    if urgency not in URGENCY_TITLES:
        raise ValidationError({"urgency": "紧急程度只能是：普通、加急、特急"})
    definition = latest_published(flow_code)
    graph = graph_of(definition.id)
    clean = wf_forms.clean(graph, form or {}, editable=None)
    inst = _create_instance(ctx, definition, title=title, business_type=business_type,
                            business_id=str(business_id), urgency=urgency, form=clean,
                            initiator_id=actor, initiator_dept_id=ctx.principal.department_id)
    _begin(ctx, inst, comment)
    record(ctx, "workflow.instance.start", object_type="wf_instance", object_id=inst.id,
           details={"flow": flow_code, "version": definition.version,
                    "business_type": business_type, "business_id": str(business_id)})
    return {"instance_id": inst.id, "status": inst.status, "current_nodes": inst.current_nodes}


# ---- acting on a task ---------------------------------------------------------------------------
def _my_task(ctx: RequestContext, task_id: int,
             statuses: tuple[str, ...] = ("open",)) -> tuple[Task, Instance, Graph]:
    actor = _actor(ctx)
    task, inst = _lock_task(task_id)
    if task.assignee_id != actor:
        raise PermissionDenied(message="这不是您的待办")
    if inst.status != "running" and task.kind != "circulate":
        raise Conflict("流程已结束，不能再办理")
    if task.status not in statuses:
        raise Conflict("该待办已被他人处理或已撤销，请刷新后查看")
    return task, inst, graph_of(inst.definition_id)


def _write_opinion(ctx: RequestContext, inst: Instance, node: dict[str, Any], task: Task,
                   action: str, comment: str) -> None:
    field = node.get("opinion_field")
    if not field:
        return
    entries = inst.form.get(field)
    entries = list(entries) if isinstance(entries, list) else []
    entries.append({"user_id": ctx.user_id, "name": ctx.principal.name if ctx.principal else "",
                    "action": action, "comment": comment, "at": now().isoformat(),
                    "task_id": task.id})
    inst.form = {**inst.form, field: entries}
    inst.save()


def _apply_form(inst: Instance, graph: Graph, node: dict[str, Any], task: Task,
                updates: dict[str, Any] | None) -> None:
    if not updates:
        return
    editable = None if task.kind == "draft" else set(node.get("editable") or [])
    clean = wf_forms.clean(graph, updates, editable=editable, partial=True)
    inst.form = {**inst.form, **clean}
    inst.save()


def approve(ctx: RequestContext, task_id: int, comment: str = "",
            form: dict[str, Any] | None = None) -> dict[str, Any]:
    """同意 (or, on a returned draft, 重新提交): close the task and move the flow on."""
    task, inst, graph = _my_task(ctx, task_id)
    comment = _comment(comment)
    node = graph.node(task.node_key) if task.node_key in graph.nodes else {
        "key": task.node_key, "name": task.node_name, "type": "circulate"}
    if task.kind == "circulate":
        raise ValidationError(message="传阅件请使用“已阅”")
    _apply_form(inst, graph, node, task, form)
    action = "submit" if task.kind == "draft" else "approve"
    _close_task(task, "done", action, comment)
    if task.kind != "draft":
        _write_opinion(ctx, inst, node, task, action, comment)
    _history(ctx, inst, action, task=task, comment=comment)
    _task_completed(ctx, inst, task)
    _progress(ctx, inst, graph, task)
    refresh_current(inst)
    record(ctx, f"workflow.task.{action}", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "node": task.node_key})
    return _outcome(inst)


def reject(ctx: RequestContext, task_id: int, comment: str = "") -> dict[str, Any]:
    """不同意: a vote against; with a veto rule, or when the node can no longer pass, the
    node fails (back to the drafter, or the flow ends, as the node says)."""
    task, inst, graph = _my_task(ctx, task_id)
    if task.kind not in {"approve", "addsign"}:
        raise ValidationError(message="此待办不能选择“不同意”")
    comment = _comment(comment, required=True)
    node = graph.node(task.node_key)
    _close_task(task, "done", "reject", comment)
    _write_opinion(ctx, inst, node, task, "reject", comment)
    _history(ctx, inst, "reject", task=task, comment=comment)
    _task_completed(ctx, inst, task)
    _progress(ctx, inst, graph, task)
    refresh_current(inst)
    record(ctx, "workflow.task.reject", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "node": task.node_key})
    return _outcome(inst)


def _comment(text: str | None, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError({"comment": "请填写意见"})
    if len(text) > 2000:
        raise ValidationError({"comment": "意见不能超过2000个字符"})
    return text


def _outcome(inst: Instance) -> dict[str, Any]:
    return {"instance_id": inst.id, "status": inst.status, "current_nodes": inst.current_nodes}


def _progress(ctx: RequestContext, inst: Instance, graph: Graph, task: Task) -> None:
    """After a task closed: advance its node if the node is complete."""
    run = row_by_key(NodeRun, task.run_id, for_update=True)
    node = graph.node(task.node_key)
    if task.kind == "draft":
        run.status, run.left_at = "done", now()
        run.save()
        _Walk(ctx, inst, graph).leave(node["key"], source_task_id=task.id,
                                      prev_human=node["key"], previous_actor=ctx.user_id)
        return
    if task.kind == "addsign":
        parent = Task.get_by_id(task.parent_task_id)
        if task.add_position == "before":
            others = Task.select().where((Task.parent_task_id == parent.id)
                                         & (Task.add_position == "before")
                                         & Task.status.in_(["open", "waiting"])).exists()
            if not others and parent.status == "waiting":
                Task.update(status="open").where(Task.id == parent.id).execute()
                _notify(parent.assignee_id, "task", parent.id)
            return
    if node.get("mode") == "sequential" and task.action == "approve" and task.kind == "approve":
        handlers = list(run.handlers or [])
        if task.seq + 1 < len(handlers):
            create_task(ctx, inst, run, node, handlers[task.seq + 1], seq=task.seq + 1,
                        source_task_id=task.id)
            return
    _evaluate(ctx, inst, graph, run, node, task)


# what every approval asks of its node, their SQL made once (finding 74)
_RUN_APPROVALS = Compiled(lambda run: Task.select().where(
    (Task.run_id == run) & (Task.kind == "approve")
    & Task.status.not_in(["transferred", "recalled"])), run=int)
_RUN_AWAITS_ADDSIGN_AFTER = Compiled(lambda run: Task.select(pw.SQL("1")).where(
    (Task.run_id == run) & (Task.kind == "addsign") & (Task.add_position == "after")
    & (Task.status == "open")).limit(1), run=int)


def _evaluate(ctx: RequestContext, inst: Instance, graph: Graph, run: NodeRun,
              node: dict[str, Any], task: Task) -> None:
    """会签 completion: pass when the approvals meet the rule (and no 后加签 is pending);
    fail on a veto or when the rule can no longer be met."""
    tasks = _RUN_APPROVALS.rows(run=run.id)
    live = [t for t in tasks if t.status != "cancelled"]
    total = len(run.handlers or []) if node.get("mode") == "sequential" else len(live)
    approvals = sum(1 for t in live if t.status == "done" and t.action == "approve")
    rejections = sum(1 for t in live if t.status == "done" and t.action == "reject")
    rule = node.get("completion", "all")
    required = {"all": total, "any": 1}.get(rule) or math.ceil(node.get("ratio", 1) * total)
    pending_after = _RUN_AWAITS_ADDSIGN_AFTER.scalar(run=run.id) is not None
    failed = (node.get("veto") and rejections > 0) or (total - rejections < required)
    if failed:
        _cancel_tasks(Task.run_id == run.id, "node_rejected")
        run.status, run.left_at = "rejected", now()
        run.save()
        _history(ctx, inst, "reject", node=node, comment="",
                 details={"outcome": "node_rejected", "veto": bool(node.get("veto")),
                          "approvals": approvals, "rejections": rejections})
        if node.get("on_reject") == "terminate":
            _terminate(ctx, inst, f"环节“{node['name']}”未通过")
        else:
            _reenter(ctx, inst, graph, graph.start["key"], source_task_id=task.id,
                     prev_node=None)
        return
    if approvals >= required and not pending_after:
        _cancel_tasks(Task.run_id == run.id, "node_done")
        run.status, run.left_at = "done", now()
        run.save()
        _Walk(ctx, inst, graph).leave(node["key"], source_task_id=task.id,
                                      prev_human=node["key"], previous_actor=ctx.user_id)


def _reenter(ctx: RequestContext, inst: Instance, graph: Graph, key: str, *,
             source_task_id: int | None, prev_node: str | None) -> None:
    """Enter a human node again (回退): the people who handled it last time handle it."""
    node = graph.node(key)
    run = NodeRun.create(instance_id=inst.id, node_key=key, node_type=node["type"],
                         status="active", prev_node=prev_node, source_task_id=source_task_id,
                         entered_at=now())
    events.publish(NODE_ENTERED, ctx, instance_id=inst.id, node_key=key, node_type=node["type"],
                   business_type=inst.business_type, business_id=inst.business_id)
    walk = _Walk(ctx, inst, graph)
    users = None
    if node["type"] == "task":
        last = (NodeRun.select().where((NodeRun.instance_id == inst.id)
                                       & (NodeRun.node_key == key) & (NodeRun.id != run.id)
                                       & (NodeRun.status == "done"))
                .order_by(NodeRun.id.desc()).first())
        if last is not None:
            acted = [t.original_assignee_id or t.assignee_id for t in
                     Task.select().where((Task.run_id == last.id) & (Task.kind == "approve")
                                         & (Task.status == "done")).order_by(Task.seq, Task.id)]
            users = list(dict.fromkeys(acted)) or None
    walk._start_task_node(run, node, source_task_id, ctx.user_id, users=users)


def return_task(ctx: RequestContext, task_id: int, target: str = "previous",
                comment: str = "") -> dict[str, Any]:
    """回退: to the previous node, to any completed node, or to the drafter ("drafter").
    Every other open task of the instance is cancelled, including the remaining co-signers
    of a running 会签, and the target node's last handlers get it again."""
    task, inst, graph = _my_task(ctx, task_id)
    if task.kind not in {"approve"}:
        raise ValidationError(message="此待办不能回退")
    comment = _comment(comment, required=True)
    run = NodeRun.get_by_id(task.run_id)
    key = _return_target(inst, graph, run, task, target)
    _close_task(task, "done", "return", comment)
    _write_opinion(ctx, inst, graph.node(task.node_key), task, "return", comment)
    _cancel_tasks((Task.instance_id == inst.id) & (Task.kind != "circulate"), "returned")
    _cancel_children(ctx, inst)
    (NodeRun.update(status="cancelled", left_at=now())
     .where((NodeRun.instance_id == inst.id) & (NodeRun.status == "active"))).execute()
    _history(ctx, inst, "return", task=task, comment=comment,
             details={"target": key, "target_name": graph.node(key)["name"]})
    _task_completed(ctx, inst, task)
    earlier = (NodeRun.select().where((NodeRun.instance_id == inst.id)
                                      & (NodeRun.node_key == key) & (NodeRun.status == "done"))
               .order_by(NodeRun.id.desc()).first())
    _reenter(ctx, inst, graph, key, source_task_id=task.id,
             prev_node=earlier.prev_node if earlier else None)
    refresh_current(inst)
    record(ctx, "workflow.task.return", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "node": task.node_key, "target": key})
    return _outcome(inst)


# asked by every task page (its 回退 choices): SQL made once, the run's own node left out here
_DONE_HUMAN_RUNS = Compiled(lambda inst: NodeRun.select(NodeRun.node_key).where(
    (NodeRun.instance_id == inst) & (NodeRun.status == "done")
    & NodeRun.node_type.in_(["task", "start"])).order_by(NodeRun.id), inst=int)


def return_targets(inst: Instance, graph: Graph, run: NodeRun) -> list[dict[str, str]]:
    """Nodes a task of `run` may be returned to: completed human nodes, and the drafter."""
    keys = dict.fromkeys(r.node_key for r in _DONE_HUMAN_RUNS.rows(inst=inst.id)
                         if r.node_key != run.node_key)
    return [{"key": k, "name": graph.node(k)["name"]} for k in keys if k in graph.nodes]


def _return_target(inst: Instance, graph: Graph, run: NodeRun, task: Task, target: str) -> str:
    start = graph.start["key"]
    if target in {"drafter", start}:
        return start
    if target in {"previous", ""}:
        previous = run.prev_node
        return previous if previous in graph.nodes else start
    allowed = {t["key"] for t in return_targets(inst, graph, run)}
    if target not in allowed:
        raise ValidationError({"target": "只能回退到已经办理过的环节"})
    return target


def _cancel_children(ctx: RequestContext, inst: Instance) -> None:
    for child in Instance.select().where((Instance.parent_instance_id == inst.id)
                                         & (Instance.status == "running")):
        _terminate(ctx, lock_instance(child.id), "上级流程已回退或终止", cascade_parent=False)


def recall(ctx: RequestContext, task_id: int, comment: str = "") -> dict[str, Any]:
    """撤回: the sender takes back a task they completed, while none of the tasks it caused has
    been acted on. Not after a system step ran (e.g. 编号), nor after the flow ended."""
    actor = _actor(ctx)
    task, inst = _lock_task(task_id)
    if task.assignee_id != actor:
        raise PermissionDenied(message="只能撤回自己办理的事项")
    problem = recall_problem(inst, task)
    if problem:
        raise Conflict(problem)
    graph = graph_of(inst.definition_id)
    runs = _successor_runs(inst, task)
    for run in runs:
        _cancel_tasks(Task.run_id == run.id, "recalled")
        run.status, run.left_at = "cancelled", now()
        run.save()
    _cancel_tasks((Task.source_task_id == task.id) & (Task.run_id == task.run_id), "recalled")
    _cancel_tasks((Task.parent_task_id == task.id), "recalled")
    for join in _joins_waiting_on(inst, task):
        arrivals = {k: v for k, v in (join.arrivals or {}).items() if v != task.id}
        join.arrivals = arrivals
        if not arrivals:
            join.status, join.left_at = "cancelled", now()
        join.save()
    Task.update(status="recalled").where(Task.id == task.id).execute()
    own = NodeRun.get_by_id(task.run_id)
    # the node is open again: its other tasks closed by the completion come back too
    (Task.update(status="open", action=None, acted_at=None)
     .where((Task.run_id == own.id) & (Task.status == "cancelled")
            & (Task.action == "node_done"))).execute()
    own.status, own.left_at = "active", None
    own.save()
    _unwrite_opinion(inst, graph, task)
    events.publish(TASK_RECALLED, ctx, task_id=task.id, instance_id=inst.id,
                   node_key=task.node_key, business_type=inst.business_type,
                   business_id=inst.business_id)
    node = graph.node(task.node_key)
    create_task(ctx, inst, own, node, actor, kind=task.kind, seq=task.seq,
                source_task_id=task.source_task_id, parent_task_id=task.parent_task_id,
                add_position=task.add_position)
    _history(ctx, inst, "recall", task=task, comment=_comment(comment))
    refresh_current(inst)
    record(ctx, "workflow.task.recall", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "node": task.node_key})
    return _outcome(inst)


def _successor_runs(inst: Instance, task: Task) -> list[NodeRun]:
    return list(NodeRun.select().where((NodeRun.instance_id == inst.id)
                                       & (NodeRun.source_task_id == task.id)
                                       & (NodeRun.status != "cancelled")
                                       & (NodeRun.id != task.run_id)))


def _joins_waiting_on(inst: Instance, task: Task) -> list[NodeRun]:
    joins = NodeRun.select().where((NodeRun.instance_id == inst.id)
                                   & (NodeRun.node_type == "join")
                                   & (NodeRun.status == "active"))
    return [j for j in joins if task.id in (j.arrivals or {}).values()]


def recall_problem(inst: Instance, task: Task) -> str | None:
    """Why `task` cannot be recalled now, or None when it can."""
    if inst.status != "running":
        return "流程已结束，不能撤回"
    if task.status != "done" or task.action not in {"approve", "submit"}:
        return "只有已提交或已同意的事项可以撤回"
    runs = _successor_runs(inst, task)
    own_run = NodeRun.get_by_id(task.run_id)
    if own_run.status == "rejected":
        return "该环节已结束，不能撤回"
    if any(r.node_type in {"system", "subflow", "end"} for r in runs):
        return "后续环节已由系统自动处理（如编号），不能撤回"
    run_ids = [r.id for r in runs]
    caused = Task.select().where(
        (Task.source_task_id == task.id) | Task.run_id.in_(run_ids or [0])
        | (Task.parent_task_id == task.id))
    if any(t.status not in {"open", "waiting"} and t.action not in {"node_done", None}
           for t in caused if t.id != task.id):
        return "下一环节已经办理，不能撤回"
    if own_run.status == "done" and not runs and not _joins_waiting_on(inst, task):
        # the node completed through someone else's later action
        last = (Task.select().where((Task.run_id == own_run.id) & (Task.status == "done")
                                    & (Task.kind == "approve"))
                .order_by(Task.acted_at.desc()).first())
        if last is not None and last.id != task.id:
            return "该环节已由他人办理完成，不能撤回"
    return None


def _unwrite_opinion(inst: Instance, graph: Graph, task: Task) -> None:
    field = graph.node(task.node_key).get("opinion_field") if task.node_key in graph.nodes \
        else None
    if not field or not isinstance(inst.form.get(field), list):
        return
    inst.form = {**inst.form, field: [e for e in inst.form[field]
                                      if not (isinstance(e, dict)
                                              and e.get("task_id") == task.id)]}
    inst.save()


def transfer(ctx: RequestContext, task_id: int, to_user_id: int,
             comment: str = "") -> dict[str, Any]:
    """转办: hand my open task to someone else; it stays the same step of the same node."""
    task, inst, graph = _my_task(ctx, task_id)
    if task.kind == "circulate":
        raise ValidationError(message="传阅件不能转办")
    target = _active_user(to_user_id, "to_user_id")
    if target == task.assignee_id:
        raise ValidationError({"to_user_id": "不能转办给自己"})
    comment = _comment(comment)
    _close_task(task, "transferred", "transfer", comment)
    run = NodeRun.get_by_id(task.run_id)
    if task.kind == "approve" and graph.node(task.node_key).get("mode") == "sequential":
        handlers = list(run.handlers or [])
        if task.seq < len(handlers):
            handlers[task.seq] = target
            run.handlers = handlers
            run.save()
    new = create_task(ctx, inst, run, graph.node(task.node_key), target, kind=task.kind,
                      seq=task.seq, source_task_id=task.source_task_id,
                      parent_task_id=task.parent_task_id, add_position=task.add_position,
                      due_at=task.due_at)
    Task.update(parent_task_id=new.id).where((Task.parent_task_id == task.id)
                                             & Task.status.in_(["open", "waiting"])).execute()
    _history(ctx, inst, "transfer", task=task, comment=comment,
             details={"to_user_id": target, "new_task_id": new.id})
    refresh_current(inst)
    record(ctx, "workflow.task.transfer", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "to_user_id": target})
    return {**_outcome(inst), "task_id": new.id}


def _active_user(user_id: Any, field: str) -> int:
    try:
        number = int(user_id)
    except (TypeError, ValueError):
        raise ValidationError({field: "请选择人员"}) from None
    if not User.select().where((User.id == number) & (User.status == "active")).exists():
        raise ValidationError({field: "人员不存在或已停用"})
    return number


def add_signers(ctx: RequestContext, task_id: int, user_ids: list[int], position: str,
                comment: str = "") -> dict[str, Any]:
    """加签. before: the added people sign first, then my task comes back to me.
    after: I approve now, and the node completes only once the added people have signed."""
    task, inst, graph = _my_task(ctx, task_id)
    if task.kind != "approve":
        raise ValidationError(message="此待办不能加签")
    if position not in {"before", "after"}:
        raise ValidationError({"position": "加签方式只能是“前加签”或“后加签”"})
    users = [_active_user(u, "user_ids") for u in dict.fromkeys(user_ids)]
    if not users:
        raise ValidationError({"user_ids": "请选择加签人员"})
    if task.assignee_id in users:
        raise ValidationError({"user_ids": "不能给自己加签"})
    comment = _comment(comment)
    node = graph.node(task.node_key)
    run = NodeRun.get_by_id(task.run_id)
    if position == "before":
        changed = (Task.update(status="waiting").where((Task.id == task.id)
                                                        & (Task.status == "open")).execute())
        if changed != 1:
            raise Conflict("该待办已被他人处理或已撤销，请刷新后查看")
    else:
        _close_task(task, "done", "approve", comment)
        _write_opinion(ctx, inst, node, task, "approve", comment)
    for user_id in users:
        create_task(ctx, inst, run, node, user_id, kind="addsign", source_task_id=task.id,
                    parent_task_id=task.id, add_position=position)
    _history(ctx, inst, "addsign", task=task, comment=comment,
             details={"position": position, "user_ids": users})
    if position == "after":
        _task_completed(ctx, inst, task)
    refresh_current(inst)
    record(ctx, "workflow.task.addsign", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id, "position": position, "user_ids": users})
    return _outcome(inst)


def mark_read(ctx: RequestContext, task_id: int) -> dict[str, Any]:
    """传阅: the reader confirms; who read when is the receipt."""
    task, inst, _ = _my_task(ctx, task_id)
    if task.kind != "circulate":
        raise ValidationError(message="只有传阅件可以标记为已阅")
    _close_task(task, "done", "read")
    _history(ctx, inst, "read", task=task)
    record(ctx, "workflow.circulate.read", object_type="wf_task", object_id=task.id,
           details={"instance_id": inst.id})
    return _outcome(inst)


def circulate(ctx: RequestContext, instance_id: int, user_ids: list[int],
              comment: str = "") -> dict[str, Any]:
    """Send the instance to people for reading (传阅), outside the flow's own nodes."""
    actor = _actor(ctx)
    inst = lock_instance(instance_id)
    if not (is_participant(actor, inst) or monitors(ctx, inst)):
        raise PermissionDenied(MONITOR, "您没有参与此流程，不能传阅")
    users = [_active_user(u, "user_ids") for u in dict.fromkeys(user_ids)]
    if not users:
        raise ValidationError({"user_ids": "请选择传阅人员"})
    node = {"key": "circulate", "name": "传阅", "type": "circulate"}
    run = NodeRun.create(instance_id=inst.id, node_key="circulate", node_type="circulate",
                         status="done", handlers=users, entered_at=now(), left_at=now())
    for user_id in users:
        create_task(ctx, inst, run, node, user_id, kind="circulate")
    _history(ctx, inst, "circulate", node=node, comment=_comment(comment),
             details={"user_ids": users})
    record(ctx, "workflow.instance.circulate", object_type="wf_instance", object_id=inst.id,
           details={"user_ids": users})
    return _outcome(inst)


def urge(ctx: RequestContext, instance_id: int, comment: str = "") -> dict[str, Any]:
    """催办: remind every open task's handler; recorded, counted and pushed."""
    actor = _actor(ctx)
    inst = lock_instance(instance_id)
    if not (inst.initiator_id == actor or _has_acted(actor, inst.id) or monitors(ctx, inst)):
        raise PermissionDenied(message="只有发起人、已办理的人员或流程监控人员可以催办")
    if inst.status != "running":
        raise Conflict("流程已结束，无需催办")
    open_tasks = list(Task.select().where((Task.instance_id == inst.id)
                                          & (Task.status == "open")
                                          & (Task.kind != "circulate")))
    if not open_tasks:
        raise Conflict("当前没有待办理的事项")
    comment = _comment(comment)
    for task in open_tasks:
        Task.update(urge_count=Task.urge_count + 1, last_urged_at=now()).where(
            Task.id == task.id).execute()
        _notify(task.assignee_id, "urge", task.id)
        events.publish(TASK_URGED, ctx, task_id=task.id, instance_id=inst.id,
                       assignee_id=task.assignee_id, urged_by=actor, comment=comment)
    _history(ctx, inst, "urge", comment=comment,
             details={"task_ids": [t.id for t in open_tasks],
                      "assignee_ids": [t.assignee_id for t in open_tasks]})
    record(ctx, "workflow.instance.urge", object_type="wf_instance", object_id=inst.id,
           details={"task_ids": [t.id for t in open_tasks]})
    return {**_outcome(inst), "urged": len(open_tasks)}


def terminate(ctx: RequestContext, instance_id: int, reason: str) -> dict[str, Any]:
    """终止: by a holder of the monitoring permission whose scope covers the instance."""
    _actor(ctx)
    inst = lock_instance(instance_id)
    if not monitors(ctx, inst):
        raise PermissionDenied(MONITOR, "只有流程监控人员可以终止流程")
    if inst.status != "running":
        raise Conflict("流程已结束，不能终止")
    reason = _comment(reason, required=True)
    _terminate(ctx, inst, reason)
    record(ctx, "workflow.instance.terminate", object_type="wf_instance", object_id=inst.id,
           details={"reason": reason})
    return _outcome(inst)


def _terminate(ctx: RequestContext, inst: Instance, reason: str,
               cascade_parent: bool = True) -> None:
    _cancel_tasks((Task.instance_id == inst.id) & (Task.kind != "circulate"), "terminated")
    (NodeRun.update(status="cancelled", left_at=now())
     .where((NodeRun.instance_id == inst.id) & (NodeRun.status == "active"))).execute()
    inst.status, inst.finished_at, inst.current_nodes = "terminated", now(), []
    inst.updated_at = now()
    inst.save()
    _history(ctx, inst, "terminate", comment=reason)
    events.publish(INSTANCE_TERMINATED, ctx, instance_id=inst.id,
                   business_type=inst.business_type, business_id=inst.business_id,
                   reason=reason)
    _notify(inst.initiator_id, "terminated")
    _cancel_children(ctx, inst)
    if cascade_parent and inst.parent_instance_id:
        parent = lock_instance(inst.parent_instance_id)
        if parent.status == "running":
            _terminate(ctx, parent, f"子流程已终止：{reason}")


# ---- who may see -------------------------------------------------------------------------------
def participant_instances(user_id: int) -> pw.SelectBase:
    """Ids of the instances the user started or held a task in (also as a delegate): a
    subquery, so that owning features can filter their lists in SQL."""
    started = Instance.select(Instance.id).where(Instance.initiator_id == user_id)
    handled = Task.select(Task.instance_id).where((Task.assignee_id == user_id)
                                                  | (Task.original_assignee_id == user_id))
    return started | handled


def is_participant(user_id: int | None, inst: Instance) -> bool:
    if user_id is None:
        return False
    if inst.initiator_id == user_id:
        return True
    return Task.select().where((Task.instance_id == inst.id)
                               & ((Task.assignee_id == user_id)
                                  | (Task.original_assignee_id == user_id))).exists()


def _has_acted(user_id: int, instance_id: int) -> bool:
    return Task.select().where((Task.instance_id == instance_id) & (Task.assignee_id == user_id)
                               & (Task.status == "done")).exists()


def monitors(ctx: RequestContext, inst: Instance) -> bool:
    """Does the actor hold the monitoring permission with a scope covering the instance?"""
    principal = ctx.principal
    scope = principal.scope(MONITOR) if principal else None
    if scope is None:
        return False
    if scope is Scope.ALL:
        return True
    if scope is Scope.SELF:
        return inst.initiator_id == principal.user_id
    own = principal.department_id
    if own is None or inst.initiator_dept_id is None:
        return False
    if scope is Scope.DEPARTMENT:
        return inst.initiator_dept_id == own
    from app.org.service import department_subtree_ids

    return inst.initiator_dept_id in department_subtree_ids(own)


def visible_instance(ctx: RequestContext, instance_id: int, *,
                     holds_task: bool = False) -> Instance:
    """The instance if the actor may see it: its participants (initiator, anyone who had a
    task or delegated one) and holders of the monitoring permission in scope. `holds_task`:
    the caller read one of the instance's tasks assigned to the actor (or delegated by them),
    so the actor is known to take part."""
    inst = find_instance(instance_id)
    if inst is None:
        raise NotFound("流程实例不存在")
    if not (holds_task or is_participant(ctx.user_id, inst) or monitors(ctx, inst)):
        raise PermissionDenied(MONITOR, "您没有参与此流程，无权查看")  # the core audits it
    return inst
