"""Deadlines: reminders before a task falls due, escalation once it is overdue.

`deadline_pass()` is one blocking unit of work, callable from any scheduler (cron through
`oa-ops`, a test, or the web process). In the web process, `schedule(application)` (called from
the feature's on_start) runs it every `INTERVAL_SECONDS` on the IOLoop through
`unit_of_work`; with several worker processes each schedules it, and a transaction-level
advisory lock (`pg_try_advisory_xact_lock`) lets exactly one of them do the pass at a time
while the others skip. A task is reminded once, when three quarters of its time have passed,
and escalated once, when overdue: its handler's leader is notified and the event
`workflow.task.escalated` is published for the notification and statistics features.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from app.core import events
from app.core.context import SYSTEM_CONTEXT
from app.core.db import database
from app.workflow import assignees, engine
from app.workflow.models import History, Task

log = logging.getLogger("oa.workflow")
LOCK_KEY = 7_201_131
INTERVAL_SECONDS = 300
BATCH = 500
TASK_REMINDED = "workflow.task.reminded"
TASK_ESCALATED = "workflow.task.escalated"


def deadline_pass(at: dt.datetime | None = None) -> dict[str, Any]:
    """Remind and escalate due tasks; returns the counts, or skipped when another runs."""
    at = at or engine.now()
    locked = database.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
    if not locked.fetchone()[0]:
        return {"skipped": True, "reminded": 0, "escalated": 0}
    reminded = escalated = 0
    due_soon = (Task.select().where((Task.status == "open") & Task.due_at.is_null(False)
                                    & Task.reminded_at.is_null() & (Task.due_at >= at))
                .order_by(Task.due_at).limit(BATCH))
    for task in due_soon:
        if at < task.created_at + (task.due_at - task.created_at) * 0.75:
            continue
        Task.update(reminded_at=at).where(Task.id == task.id).execute()
        _record(task, "remind", {"due_at": task.due_at.isoformat()})
        engine._notify(task.assignee_id, "remind", task.id)
        events.publish(TASK_REMINDED, SYSTEM_CONTEXT, task_id=task.id,
                       instance_id=task.instance_id, assignee_id=task.assignee_id)
        reminded += 1
    overdue = (Task.select().where((Task.status == "open") & Task.due_at.is_null(False)
                                   & Task.escalated_at.is_null() & (Task.due_at < at))
               .order_by(Task.due_at).limit(BATCH))
    for task in overdue:
        leader = assignees.own_leader(task.assignee_id)
        Task.update(escalated_at=at).where(Task.id == task.id).execute()
        _record(task, "escalate", {"due_at": task.due_at.isoformat(), "leader_id": leader})
        if leader:
            engine._notify(leader, "escalate", task.id)
        events.publish(TASK_ESCALATED, SYSTEM_CONTEXT, task_id=task.id,
                       instance_id=task.instance_id, assignee_id=task.assignee_id,
                       leader_id=leader)
        escalated += 1
    return {"skipped": False, "reminded": reminded, "escalated": escalated}


def _record(task: Task, action: str, details: dict[str, Any]) -> None:
    History.create(instance_id=task.instance_id, task_id=task.id, node_key=task.node_key,
                   node_name=task.node_name, actor_id=None, action=action, comment="",
                   details={**details, "assignee_id": task.assignee_id}, ip="",
                   created_at=engine.now())


def schedule(application: Any) -> None:
    """Run the pass periodically in this process (see the module doc)."""
    from app.core.periodic import every

    every(application, INTERVAL_SECONDS, deadline_pass, name="workflow deadline pass")
