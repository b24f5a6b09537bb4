"""Peewee model of the portal's one table; the schema itself is in migrations/."""

from __future__ import annotations

import peewee as pw
from playhouse.postgres_ext import ArrayField

from app.core.db import BaseModel


class PortalLayout(BaseModel):
    """A user's chosen widgets, in display order (no row: the role's default layout)."""

    user_id = pw.BigIntegerField(primary_key=True)
    widgets = ArrayField(pw.TextField, default=list)
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "portal_layout"
