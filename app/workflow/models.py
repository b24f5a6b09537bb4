"""Peewee models of the workflow engine; the schema itself is in migrations/."""

from __future__ import annotations

import peewee as pw
from playhouse.postgres_ext import BinaryJSONField

from app.core.db import BaseModel

URGENCY_TITLES = {0: "普通", 1: "加急", 2: "特急"}
URGENCY_BY_TITLE = {title: value for value, title in URGENCY_TITLES.items()}
INSTANCE_STATUS_TITLES = {"running": "办理中", "finished": "已办结", "terminated": "已终止"}
TASK_STATUS_TITLES = {"open": "待办", "waiting": "等待加签", "done": "已办",
                      "cancelled": "已取消", "transferred": "已转办", "recalled": "已撤回"}
ACTION_TITLES = {
    "submit": "提交", "approve": "同意", "reject": "不同意", "return": "回退", "recall": "撤回",
    "transfer": "转办", "addsign": "加签", "urge": "催办", "terminate": "终止",
    "read": "已阅", "system": "系统处理", "finish": "办结", "circulate": "传阅",
    "remind": "到期提醒", "escalate": "超期上报", "subflow": "子流程", "cancelled": "取消",
    "delegated": "委托代办",
}


class Definition(BaseModel):
    code = pw.TextField()
    name = pw.TextField()
    version = pw.IntegerField()
    status = pw.TextField(default="draft")
    graph = BinaryJSONField()
    created_by = pw.BigIntegerField(null=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    published_by = pw.BigIntegerField(null=True)
    published_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "wf_definition"


class Instance(BaseModel):
    definition = pw.ForeignKeyField(Definition, column_name="definition_id")
    flow_code = pw.TextField()
    business_type = pw.TextField(default="")
    business_id = pw.TextField(default="")
    # what the lists show of the object (a 公文's 文号); the owning feature's triggers keep it
    business_reference = pw.TextField(default="")
    title = pw.TextField()
    urgency = pw.SmallIntegerField(default=0)
    form = BinaryJSONField(default=dict)
    initiator_id = pw.BigIntegerField()
    initiator_dept_id = pw.BigIntegerField(null=True)
    status = pw.TextField(default="running")
    current_nodes = BinaryJSONField(default=list)
    parent_instance_id = pw.BigIntegerField(null=True)
    parent_run_id = pw.BigIntegerField(null=True)
    started_at = pw.DateTimeField()
    finished_at = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "wf_instance"


class NodeRun(BaseModel):
    instance_id = pw.BigIntegerField()
    node_key = pw.TextField()
    node_type = pw.TextField()
    status = pw.TextField(default="active")
    prev_node = pw.TextField(null=True)
    source_task_id = pw.BigIntegerField(null=True)
    handlers = BinaryJSONField(default=list)
    arrivals = BinaryJSONField(default=dict)
    entered_at = pw.DateTimeField()
    left_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "wf_node_run"


class Task(BaseModel):
    instance_id = pw.BigIntegerField()
    run_id = pw.BigIntegerField()
    node_key = pw.TextField()
    node_name = pw.TextField()
    kind = pw.TextField(default="approve")
    assignee_id = pw.BigIntegerField()
    original_assignee_id = pw.BigIntegerField(null=True)
    delegation_id = pw.BigIntegerField(null=True)
    status = pw.TextField(default="open")
    seq = pw.IntegerField(default=0)
    source_task_id = pw.BigIntegerField(null=True)
    parent_task_id = pw.BigIntegerField(null=True)
    add_position = pw.TextField(null=True)
    created_at = pw.DateTimeField()
    due_at = pw.DateTimeField(null=True)
    acted_at = pw.DateTimeField(null=True)
    action = pw.TextField(null=True)
    comment = pw.TextField(default="")
    urge_count = pw.IntegerField(default=0)
    last_urged_at = pw.DateTimeField(null=True)
    reminded_at = pw.DateTimeField(null=True)
    escalated_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "wf_task"


class History(BaseModel):
    instance_id = pw.BigIntegerField()
    task_id = pw.BigIntegerField(null=True)
    node_key = pw.TextField(default="")
    node_name = pw.TextField(default="")
    actor_id = pw.BigIntegerField(null=True)
    action = pw.TextField()
    comment = pw.TextField(default="")
    details = BinaryJSONField(default=dict)
    ip = pw.TextField(default="")
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "wf_history"


class Delegation(BaseModel):
    user_id = pw.BigIntegerField()
    delegate_id = pw.BigIntegerField()
    start_date = pw.DateField()
    end_date = pw.DateField()
    flow_code = pw.TextField(default="")
    reason = pw.TextField(default="")
    created_at = pw.DateTimeField()
    revoked_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "wf_delegation"


class Phrase(BaseModel):
    user_id = pw.BigIntegerField()
    text = pw.TextField()
    sort_order = pw.IntegerField(default=0)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "wf_phrase"
