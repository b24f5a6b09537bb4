"""流程引擎: a general workflow engine (公文 发文/收文, meetings, general affairs run on it).

Definitions (app.workflow.definition, .design): a flow is a versioned graph stored as JSONB:
start, task, circulate, system, split/join, gateway (conditions in a small safe language,
app.workflow.expressions), subflow and end nodes. Administrators edit drafts in the designer
(/workflow/design), validate, publish (immutable) and import/export YAML. Running instances stay
on the version they started on.

Runtime (app.workflow.engine): `start`, `approve`, `reject`, `return_task`, `recall`,
`transfer`, `add_signers`, `circulate`, `mark_read`, `urge`, `terminate`; delegation (委托) is
applied when a task is created; deadlines per urgency with a reminder/escalation pass
(app.workflow.scheduler). The todo centre (app.workflow.service) lists 待办/已办/我发起的/传阅;
its badge is the COUNT of the same query as the 待办 list.

Extension points for the feature that owns instances (its `business_type`):

1. In-transaction events (app.core.events), all with `instance_id`, `business_type`,
   `business_id`: `workflow.instance.started`, `workflow.task.created` (task_id, assignee_id,
   node_key, kind), `workflow.task.completed` (task_id, action, actor_id, node_key, comment),
   `workflow.node.entered` (node_key, node_type), `workflow.instance.finished`,
   `workflow.instance.terminated`, `workflow.task.urged`, `workflow.task.recalled` (its
   opinion was taken back); from the deadline pass
   `workflow.task.reminded` and `workflow.task.escalated`. A subscriber's writes commit or
   roll back with the workflow operation.

2. System nodes: a node `{key: number, type: system, action: number, name: 编号}` has no human;
   when the flow enters it, the handler registered for (business_type, action) runs inside
   the same transaction and may return form updates; then the flow moves on. An exception
   rolls the whole operation back (the person's approval included), so numbering can never
   be half done. Example, in the 公文 feature's on_start:

       from app.workflow.system import SystemStep, register_system_action

       def assign_number(step: SystemStep) -> dict:
           number = documents.service.next_number(step.ctx, int(step.business_id))
           return {"发文字号": number}          # written into the instance's form

       register_system_action("document.outgoing", "number", assign_number)

   ("*" as business_type registers a handler for every business type.)

Starting a flow from a feature: `engine.start(ctx, "fawen", title=..., business_type=
"document.outgoing", business_id=str(doc.id), urgency=2, form={...})` inside its own unit of
work; shipping a default flow: `design.install(yaml_text, ctx)` (publishes it once).

Access: an instance is visible to its participants (initiator, anyone who had a task,
delegators) and to holders of `workflow.monitor` whose scope covers the initiator's
department; every read and operation is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.features import Duty, Feature, NavItem, Permission, Widget

DESIGN = "workflow.design"
MONITOR = "workflow.monitor"


def _routes() -> list[tuple[str, type]]:
    from app.workflow import handlers

    return handlers.ROUTES


def _on_start(application: Any) -> None:
    from app.workflow import scheduler

    scheduler.schedule(application)


def _widget_todo(ctx: Any) -> dict[str, Any]:
    from app.workflow import service

    return service.widget_todo(ctx)


def _todo_count(ctx: Any) -> int:
    from app.workflow import service

    return service.todo_count(ctx)


def _widget_my_approvals(ctx: Any) -> dict[str, Any]:
    from app.workflow import service

    return service.widget_my_approvals(ctx)


feature = Feature(
    name="workflow",
    title="流程与待办",
    package_dir=Path(__file__).resolve().parent,
    depends=("org", "audit", "auth"),
    routes=_routes(),
    permissions=[
        Permission(DESIGN, "设计流程（流程定义、表单、发布、导入导出）", Duty.SYSTEM),
        Permission(MONITOR, "流程监控：查看并终止范围内的流程实例", Duty.BUSINESS,
                   staff_default=False),
    ],
    nav=[
        NavItem("待办", "/todo", order=10, badge=_todo_count, badge_url="/api/todo/count"),
        NavItem("流程设计", "/workflow/design", permission=DESIGN, order=890),
    ],
    widgets=[
        Widget(key="todo", title="我的待办", template="workflow/widgets/todo.html",
               load=_widget_todo, more_url="/todo"),
        Widget(key="my_approvals", title="我的审批", template="workflow/widgets/my_approvals.html",
               load=_widget_my_approvals, more_url="/todo/mine"),
    ],
    on_start=_on_start,
)
