"""Security events go to the audit trail inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from app.audit.service import record
from app.core.context import RequestContext


def audit(ctx: RequestContext, action: str, *, object_type: str = "", object_id: Any = None,
          outcome: str = "success", details: dict[str, Any] | None = None) -> None:
    record(ctx, action, object_type=object_type, object_id=object_id, outcome=outcome,
           details=details)
