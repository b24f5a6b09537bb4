"""Services the core needs from features, without importing them.

A feature installs its implementation in `Feature.on_start`; until then, the safe default
applies (no sessions resolve; audit events are only logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.core.context import Principal, RequestContext

log = logging.getLogger("oa.hooks")

SessionResolver = Callable[[str, str], Principal | None]
AuditWriter = Callable[..., None]


def _no_session(session_id: str, ip: str) -> Principal | None:
    return None


def _log_audit(ctx: RequestContext, action: str, **fields: Any) -> None:
    log.warning("audit (no writer installed): %s %s %s", ctx.user_id, action, fields)


def _no_count() -> int:
    return 0


class Hooks:
    # blocking; web requests run it WITHOUT a transaction (db.run_statements), so each of its
    # statements must stand alone: (session id, client ip) -> Principal or None
    resolve_session: SessionResolver = staticmethod(_no_session)
    # blocking; runs inside the caller's unit of work:
    # (ctx, action, object_type=, object_id=, outcome=, details=)
    audit: AuditWriter = staticmethod(_log_audit)
    # blocking; the number of live sessions, for /metrics
    active_sessions: Callable[[], int] = staticmethod(_no_count)


hooks = Hooks()
