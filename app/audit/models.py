"""Peewee models of the audit trail; the schema (and its triggers) is in migrations/.

Rows are never written through these models: `service.record` inserts into the pending table
and the database chains the event at commit. The models are for reading.
"""

from __future__ import annotations

import peewee as pw
from playhouse.postgres_ext import BinaryJSONField

from app.core.db import BaseModel

OUTCOMES = ("success", "failure", "denied")
OUTCOME_TITLES = {"success": "成功", "failure": "失败", "denied": "拒绝"}
GENESIS_HASH = "0" * 64


class AuditEvent(BaseModel):
    id = pw.BigIntegerField(primary_key=True)
    occurred_at = pw.DateTimeField()
    actor_id = pw.BigIntegerField(null=True)
    actor_username = pw.TextField(default="")
    actor_name = pw.TextField(default="")
    ip = pw.TextField(default="")
    user_agent = pw.TextField(default="")
    request_id = pw.TextField(default="")
    action = pw.TextField()
    object_type = pw.TextField(default="")
    object_id = pw.TextField(null=True)
    outcome = pw.TextField()
    details = BinaryJSONField(default=dict)
    prev_hash = pw.TextField()
    hash = pw.TextField()

    class Meta:
        table_name = "audit_event"

    @property
    def outcome_title(self) -> str:
        return OUTCOME_TITLES.get(self.outcome, self.outcome)


class AuditChain(BaseModel):
    """The chain head and the anchor the chain starts from (one row)."""

    singleton = pw.BooleanField(primary_key=True, default=True)
    last_id = pw.BigIntegerField()
    last_hash = pw.TextField()
    anchor_id = pw.BigIntegerField()
    anchor_hash = pw.TextField()

    class Meta:
        table_name = "audit_chain"
