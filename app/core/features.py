"""How a feature plugs into the platform: routes, permissions, menus, widgets, migrations.

Each feature package exposes `feature = Feature(...)` in its `__init__.py`; `app/features.py`
lists the installed ones. The core reads only these declarations.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Duty(enum.StrEnum):
    """Whose duty a permission belongs to (三员分立): business, or one of the three admins."""

    BUSINESS = "business"
    SYSTEM = "system"  # 系统管理员
    SECURITY = "security"  # 安全管理员
    AUDIT = "audit"  # 安全审计员


class Scope(enum.StrEnum):
    """The data scope a role grants with a permission."""

    SELF = "self"
    DEPARTMENT = "department"
    SUBTREE = "subtree"
    ALL = "all"

    @property
    def title(self) -> str:
        return SCOPE_TITLES[self]


SCOPE_TITLES = {
    Scope.SELF: "本人",
    Scope.DEPARTMENT: "本部门",
    Scope.SUBTREE: "本部门及下级",
    Scope.ALL: "全部",
}
SCOPE_ORDER = [Scope.SELF, Scope.DEPARTMENT, Scope.SUBTREE, Scope.ALL]


@dataclass(frozen=True)
class Permission:
    code: str
    title: str
    duty: Duty = Duty.BUSINESS
    # A business permission every staff member needs is offered to 普通用户 when first seen;
    # one that reaches beyond a person's own work (e.g. seeing all 公文) is granted deliberately.
    staff_default: bool = True


@dataclass(frozen=True)
class NavItem:
    title: str
    url: str
    permission: str | None = None  # None: every signed-in user
    order: int = 100
    # badge: a count for the item, as one read statement standing alone (no transaction):
    # (ctx) -> int. It is counted in the same database hop that resolves the session of a page
    # and rendered with the page; badge_url answers JSON {"count": n} with the same count, for
    # app.js to refresh the badge in place (and to fill it when a page came without it).
    badge: Callable[[Any], int] | None = None
    badge_url: str | None = None


@dataclass(frozen=True)
class Widget:
    """A portal widget; `load(ctx)` runs inside a unit of work and returns template values."""

    key: str
    title: str
    template: str
    load: Callable[[Any], dict[str, Any]]
    permission: str | None = None
    more_url: str | None = None


@dataclass
class Feature:
    name: str
    title: str
    package_dir: Path
    routes: list[tuple[str, type, dict[str, Any]] | tuple[str, type]] = field(default_factory=list)
    permissions: list[Permission] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    depends: tuple[str, ...] = ()
    demo: Callable[[], None] | None = None  # loads demo data, idempotent, in a transaction
    on_start: Callable[[Any], None] | None = None  # called with the Tornado Application

    @property
    def migrations_dir(self) -> Path:
        return self.package_dir / "migrations"

    @property
    def templates_dir(self) -> Path:
        return self.package_dir / "templates"

    @property
    def static_dir(self) -> Path:
        """Served at /assets/<feature name>/ (the core's own assets are under /static/)."""
        return self.package_dir / "static"


def ordered(features: list[Feature]) -> list[Feature]:
    """Features in dependency order; a missing or circular dependency is an error."""
    by_name = {f.name: f for f in features}
    done: list[Feature] = []
    visiting: set[str] = set()

    def visit(feature: Feature) -> None:
        if feature in done:
            return
        if feature.name in visiting:
            raise ValueError(f"功能模块存在循环依赖：{feature.name}")
        visiting.add(feature.name)
        for dep in feature.depends:
            if dep not in by_name:
                raise ValueError(f"功能模块 {feature.name} 依赖未安装的模块 {dep}")
            visit(by_name[dep])
        visiting.discard(feature.name)
        done.append(feature)

    for feature in features:
        visit(feature)
    return done
