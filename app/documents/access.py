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
from typing import Any

import peewee as pw

from app.core.context import RequestContext
from app.core.errors import NotAuthenticated, PermissionDenied
from app.core.features import Scope
from app.documents.constants import SECRECY_TITLES
from app.documents.models import IncomingDocument, OutgoingDocument
from app.org.models import Department, DepartmentDeputy
from app.org.service import department_subtree_ids

ADMIN = "documents.admin"
DRAFT = "documents.draft"
REGISTER_INCOMING = "documents.register_incoming"
OUTGOING, INCOMING = "outgoing", "incoming"

# Every rule is a SQL condition, so that one definition serves the check of one document, the
# lists and the archive browser alike. (ctx, OUTGOING | INCOMING) -> a condition on that model
# granting access in more cases (e.g. the workflow: participants and recipients), or None.
AccessRule = Callable[[RequestContext, str], pw.Expression | None]
_rules: list[AccessRule] = []


def add_rule(rule: AccessRule) -> None:
    """Grant access in more cases (e.g. the workflow: participants of the document's flow)."""
    if rule not in _rules:
        _rules.append(rule)


def led_departments(user_id: int) -> set[int]:
    """Departments the user leads (正职 or 副职), with every department below them."""
    led = [d.id for d in Department.select(Department.id).where(Department.leader_id == user_id)]
    led += [d.department_id for d in DepartmentDeputy.select(DepartmentDeputy.department)
            .where(DepartmentDeputy.user == user_id)]
    found: set[int] = set()
    for dept_id in led:
        found |= department_subtree_ids(dept_id)
    return found


def scoped_departments(ctx: RequestContext, code: str) -> set[int] | None:
    """Departments the actor's scope for `code` covers: None means all, empty means none."""
    principal = ctx.principal
    scope = principal.scope(code) if principal else None
    if scope is Scope.ALL:
        return None
    if scope is None or scope is Scope.SELF or principal.department_id is None:
        return set()
    if scope is Scope.DEPARTMENT:
        return {principal.department_id}
    return department_subtree_ids(principal.department_id)


def scope_covers(ctx: RequestContext, code: str, dept_id: int) -> bool:
    covered = scoped_departments(ctx, code)
    return covered is None or dept_id in covered


def check_clearance(ctx: RequestContext, secrecy: int) -> None:
    if ctx.principal is None:
        raise NotAuthenticated()
    if ctx.principal.clearance < secrecy:
        raise PermissionDenied(message=f"该公文密级为{SECRECY_TITLES[secrecy]}，"
                                       "超出您的涉密等级，不能查阅")


def _with_rules(ctx: RequestContext, kind: str, condition: pw.Expression) -> pw.Expression:
    for rule in _rules:
        extra = rule(ctx, kind)
        if extra is not None:
            condition |= extra
    return condition


def outgoing_condition(ctx: RequestContext) -> pw.Expression | None:
    """The 发文 the actor may see, clearance aside: its drafter, the leaders of its department
    and above, `documents.admin` over it, and the added rules. None means every 发文."""
    if ctx.principal is None:
        raise NotAuthenticated()
    administered = scoped_departments(ctx, ADMIN)
    if administered is None:
        return None
    departments = administered | led_departments(ctx.principal.user_id)
    condition = OutgoingDocument.drafter == ctx.principal.user_id
    if departments:
        condition |= OutgoingDocument.drafting_department.in_(sorted(departments))
    return _with_rules(ctx, OUTGOING, condition)


def incoming_condition(ctx: RequestContext) -> pw.Expression | None:
    """The 收文 the actor may see, clearance aside: who registered it, the leaders of its
    department and above, `documents.admin` or `documents.register_incoming` over it, and the
    added rules. None means every 收文."""
    if ctx.principal is None:
        raise NotAuthenticated()
    administered = scoped_departments(ctx, ADMIN)
    registering = scoped_departments(ctx, REGISTER_INCOMING)
    if administered is None or registering is None:
        return None
    departments = administered | registering | led_departments(ctx.principal.user_id)
    condition = IncomingDocument.registered_by == ctx.principal.user_id
    if departments:
        condition |= IncomingDocument.department.in_(sorted(departments))
    return _with_rules(ctx, INCOMING, condition)


def visible_query(ctx: RequestContext, model: Any) -> Any:
    """The 发文 or 收文 the actor may see, clearance included: the base of every list."""
    condition = (outgoing_condition if model is OutgoingDocument else incoming_condition)(ctx)
    query = model.select().where(model.secrecy <= ctx.principal.clearance)
    return query if condition is None else query.where(condition)


def visible(model: Any, condition: pw.Expression | None, row_id: int) -> bool:
    query = model.select(model.id).where(model.id == row_id)
    return (query if condition is None else query.where(condition)).exists()


def can_view_outgoing(ctx: RequestContext, doc: Any) -> bool:
    """Clearance aside (see check_clearance): may the actor see this 发文? Its drafter may, as
    outgoing_condition grants first; known without building and running that condition (the
    drafter's own submit checked it twice at 8 % of the mixed load's CPU, finding 43)."""
    if ctx.principal is None:
        return False
    return (doc.drafter_id == ctx.principal.user_id
            or visible(OutgoingDocument, outgoing_condition(ctx), doc.id))


def can_view_incoming(ctx: RequestContext, incoming: Any) -> bool:
    """Clearance aside: may the actor see this 收文? Whoever registered it may (as above)."""
    if ctx.principal is None:
        return False
    return (incoming.registered_by_id == ctx.principal.user_id
            or visible(IncomingDocument, incoming_condition(ctx), incoming.id))


def require_outgoing(ctx: RequestContext, doc) -> None:
    check_clearance(ctx, doc.secrecy)
    if not can_view_outgoing(ctx, doc):
        raise PermissionDenied(message="您无权查阅该公文")


def require_incoming(ctx: RequestContext, incoming) -> None:
    check_clearance(ctx, incoming.secrecy)
    if not can_view_incoming(ctx, incoming):
        raise PermissionDenied(message="您无权查阅该收文")
