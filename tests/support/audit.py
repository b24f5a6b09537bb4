"""The audit trail as an auditor's read sees it: every committed event chained."""

from __future__ import annotations

from app.audit.service import chain_pending
from app.core.db import run_in_transaction


def chain_audit_trail() -> int:
    """Chain every committed pending event now, waiting for the chain head, as the auditor's
    screens do before they read (app/audit/service.py); the number chained."""
    return run_in_transaction(chain_pending)
