"""The audit trail as an auditor's read sees it: every committed event chained."""

from __future__ import annotations

from app.audit.service import chain_pending
from app.core.db import run_without_transaction


def chain_audit_trail(wait: bool = True) -> int:
    """Chain every committed pending event now, as the auditor's screens do before they read
    (app/audit/service.py); the number chained. `wait=False`: chain nothing while another
    transaction holds the chain head, as the web worker's pass does."""
    return run_without_transaction(chain_pending, wait)
