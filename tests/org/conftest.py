"""Fixtures of the organisation tests: the demo bureau and request contexts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.core.context import Principal, RequestContext
from app.core.db import run_in_transaction
from app.core.features import Scope
from app.org.demo import load_demo
from app.org.models import Department, User

MANAGE = "org.manage"
ADDRESSBOOK = "org.addressbook.view"


def context(user_id: int = 0, permissions: dict[str, Scope] | None = None,
            department_id: int | None = None, username: str = "tester") -> RequestContext:
    """A signed-in actor for service calls (the auth feature builds these from sessions)."""
    principal = Principal(user_id=user_id, username=username, name="测试员",
                          department_id=department_id, session_id="test-session",
                          permissions=dict(permissions or {}))
    return RequestContext(principal=principal, ip="127.0.0.1", request_id="test-request")


@pytest.fixture
def admin_ctx() -> RequestContext:
    return context(permissions={MANAGE: Scope.ALL, ADDRESSBOOK: Scope.ALL}, username="sysadmin")


@pytest.fixture
def staff_ctx() -> RequestContext:
    return context(permissions={ADDRESSBOOK: Scope.DEPARTMENT}, username="staff")


@pytest.fixture
def bureau(db) -> dict[str, Any]:
    """The demo bureau loaded into an empty database; department ids by path."""
    run_in_transaction(load_demo)

    def ids() -> dict[str, Any]:
        from app.org.service import DepartmentIndex

        index = DepartmentIndex.load()
        return {"/".join(index.path(d)): d for d in index.rows}

    return run_in_transaction(ids)


@pytest.fixture
def call() -> Callable[..., Any]:
    """Run a service function as one unit of work, as a handler would."""
    return run_in_transaction


def user_by_no(employee_no: str) -> User:
    return run_in_transaction(lambda: User.get(User.employee_no == employee_no))


def department_named(path: str) -> Department:
    return run_in_transaction(lambda: Department.get(Department.name == path))
