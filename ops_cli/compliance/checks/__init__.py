"""The checks of the catalogue, by id. A check reads a host (never changes it) and returns a
Verdict; every command it ran is kept as evidence for the report.

`ctx.runtime` is False when the control is config-only in the lab: the check then verifies the
configuration files only, and the report says so (it never reports such a control as "pass").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str


class Result(Protocol):
    rc: int
    stdout: str
    stderr: str


class Context(Protocol):
    host: str
    groups: tuple[str, ...]
    runtime: bool
    lab: bool

    def run(self, command: str) -> Result: ...
    def os_family(self) -> str: ...
    def sql(self, query: str, database: str = "oa") -> list[list[str]]: ...
    def var(self, name: str, default: Any = None) -> Any: ...


CheckFn = Callable[[Context, dict[str, Any]], Verdict]
CHECKS: dict[str, CheckFn] = {}


def check(check_id: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[check_id] = fn
        return fn
    return register


def ok(detail: str) -> Verdict:
    return Verdict(True, detail)


def fail(detail: str) -> Verdict:
    return Verdict(False, detail)


def all_checks() -> dict[str, CheckFn]:
    from ops_cli.compliance.checks import (  # noqa: F401
        app,
        backup,
        host,
        monitoring,
        nginx,
        pending,
        postgresql,
    )

    return CHECKS
