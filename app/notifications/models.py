"""Peewee model of the notifications table; the schema itself is in migrations/."""

from __future__ import annotations

import peewee as pw

from app.core.db import BaseModel

SEVERITY_TITLES = {"critical": "严重", "warning": "警告", "info": "提示"}


class Notification(BaseModel):
    """One message for one user; `fingerprint` ties an alert's notification to the alert."""

    user_id = pw.BigIntegerField()
    title = pw.TextField()
    body = pw.TextField(default="")
    severity = pw.TextField(default="info")
    link = pw.TextField(default="")
    source = pw.TextField(default="system")
    fingerprint = pw.TextField(null=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    read_at = pw.DateTimeField(null=True)
    resolved_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "notification"
