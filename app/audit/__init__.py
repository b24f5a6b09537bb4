"""安全审计: the append-only, hash-chained audit trail and the auditor's screens.

Retention: the trail is kept at least `audit_retention_days` (default 180) days. The
application can never remove a row (its role has only INSERT and SELECT, and a trigger refuses
UPDATE, DELETE and TRUNCATE for everyone); archiving and purging older rows is an operation for
the database owner only, and must record the last purged row's id and hash as the chain's
anchor (audit_chain.anchor_id / anchor_hash) so that verification stays possible.
"""

from pathlib import Path

from app.audit import handlers, service
from app.core.features import Duty, Feature, NavItem, Permission, Widget


def _install_audit_writer(application) -> None:
    """Let the core write its own events (e.g. permission denials) into the trail."""
    from app.core.hooks import hooks

    hooks.audit = service.record
    service.schedule_chaining(application)


feature = Feature(
    name="audit",
    title="安全审计",
    package_dir=Path(__file__).resolve().parent,
    depends=("org",),
    routes=[
        (r"/audit", handlers.AuditSearchHandler),
        (r"/audit/export\.(?P<file_format>csv|xlsx)", handlers.AuditExportHandler),
        (r"/audit/stats", handlers.AuditStatsHandler),
        (r"/api/audit/events", handlers.AuditEventsApiHandler),
    ],
    permissions=[
        Permission("audit.view", "查看审计日志", Duty.AUDIT),
        Permission("audit.export", "导出审计日志", Duty.AUDIT),
    ],
    nav=[NavItem("安全审计", "/audit", permission="audit.view", order=90)],
    widgets=[
        Widget(key="audit_overview", title="今日审计概况", template="audit/widget_overview.html",
               load=service.overview, permission="audit.view", more_url="/audit"),
    ],
    on_start=_install_audit_writer,
)
