"""Who may see and act on a 公文.

A 发文 is visible to its drafter, the leaders (正职 and 副职) of its drafting department and of
the departments above it, and holders of `documents.admin` whose scope covers that department.
A 收文 is visible to whoever registered it, the leaders of its department and above, and
holders of `documents.register_incoming` or `documents.admin` covering its department.
Further rules (flow participants, recipients) are added by other features with `add_rule`.
Above all of these, the actor's clearance must cover the document's 密级: without it, even a
participant is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.context import RequestContext
from app.core.errors import NotAuthenticated, PermissionDenied
from app.core.features import Scope
from app.documents.constants import SECRECY_TITLES
from app.org.models import Department, DepartmentDeputy

ADMIN = "documents.admin"
DRAFT = "documents.draft"
REGISTER_INCOMING = "documents.register_incoming"

# (ctx, "outgoing" | "incoming", the model row) -> True to grant access
AccessRule = Callable[[RequestContext, str, object], bool]
_rules: list[AccessRule] = []


def add_rule(rule: AccessRule) -> None:
    """Grant access in more cases (e.g. the workflow: participants of the document's flow)."""
    if rule not in _rules:
        _rules.append(rule)


def department_chain(dept_id: int) -> list[int]:
    """The department and its ancestors, nearest first."""
    chain: list[int] = []
    current: int | None = dept_id
    while current is not None and current not in chain and len(chain) < 64:
        chain.append(current)
        row = Department.get_or_none(Department.id == current)
        current = row.parent_id if row else None
    return chain


def leads(user_id: int, dept_id: int) -> bool:
    """Is the user the leader or a deputy leader of the department or of one above it?"""
    chain = department_chain(dept_id)
    if Department.select().where(Department.id.in_(chain),
                                 Department.leader_id == user_id).exists():
        return True
    return DepartmentDeputy.select().where(DepartmentDeputy.department.in_(chain),
                                           DepartmentDeputy.user == user_id).exists()


def scope_covers(ctx: RequestContext, code: str, dept_id: int) -> bool:
    principal = ctx.principal
    scope = principal.scope(code) if principal else None
    if scope is None:
        return False
    if scope is Scope.ALL:
        return True
    if scope is Scope.SELF or principal.department_id is None:
        return False
    if scope is Scope.DEPARTMENT:
        return principal.department_id == dept_id
    return principal.department_id in department_chain(dept_id)


def check_clearance(ctx: RequestContext, secrecy: int) -> None:
    if ctx.principal is None:
        raise NotAuthenticated()
    if ctx.principal.clearance < secrecy:
        raise PermissionDenied(message=f"该公文密级为{SECRECY_TITLES[secrecy]}，"
                                       "超出您的涉密等级，不能查阅")


def _by_rules(ctx: RequestContext, kind: str, row: object) -> bool:
    return any(rule(ctx, kind, row) for rule in _rules)


def can_view_outgoing(ctx: RequestContext, doc) -> bool:
    """Clearance aside (see check_clearance): may the actor see this 发文?"""
    principal = ctx.principal
    if principal is None:
        return False
    dept_id = doc.drafting_department_id
    return (doc.drafter_id == principal.user_id or leads(principal.user_id, dept_id)
            or scope_covers(ctx, ADMIN, dept_id) or _by_rules(ctx, "outgoing", doc))


def can_view_incoming(ctx: RequestContext, incoming) -> bool:
    principal = ctx.principal
    if principal is None:
        return False
    dept_id = incoming.department_id
    return (incoming.registered_by_id == principal.user_id or leads(principal.user_id, dept_id)
            or scope_covers(ctx, ADMIN, dept_id) or scope_covers(ctx, REGISTER_INCOMING, dept_id)
            or _by_rules(ctx, "incoming", incoming))


def require_outgoing(ctx: RequestContext, doc) -> None:
    check_clearance(ctx, doc.secrecy)
    if not can_view_outgoing(ctx, doc):
        raise PermissionDenied(message="您无权查阅该公文")


def require_incoming(ctx: RequestContext, incoming) -> None:
    check_clearance(ctx, incoming.secrecy)
    if not can_view_incoming(ctx, incoming):
        raise PermissionDenied(message="您无权查阅该收文")
