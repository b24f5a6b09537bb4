"""Who is acting, and from where: passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.errors import PermissionDenied
from app.core.features import SCOPE_ORDER, Scope


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the session resolved it."""

    user_id: int
    username: str
    name: str
    department_id: int | None
    session_id: str
    permissions: dict[str, Scope] = field(default_factory=dict)
    admin_role: str | None = None  # sysadmin | secadmin | auditor | None
    clearance: int = 0
    pending_url: str | None = None  # a step the user must finish first (password, TOTP)
    notices: tuple[str, ...] = ()  # e.g. the password expires in 3 days

    def can(self, code: str) -> bool:
        return code in self.permissions

    def scope(self, code: str) -> Scope | None:
        return self.permissions.get(code)


@dataclass(frozen=True)
class RequestContext:
    principal: Principal | None
    ip: str = ""
    request_id: str = ""
    user_agent: str = ""

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None

    def require(self, code: str, at_least: Scope = Scope.SELF) -> Scope:
        """The actor's scope for `code`, or PermissionDenied when it has none wide enough."""
        scope = self.principal.scope(code) if self.principal else None
        if scope is None or SCOPE_ORDER.index(scope) < SCOPE_ORDER.index(at_least):
            raise PermissionDenied(code)
        return scope


SYSTEM_CONTEXT = RequestContext(principal=None, ip="127.0.0.1", request_id="system")
