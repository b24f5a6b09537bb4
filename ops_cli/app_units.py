"""How the platform runs on an application server (the app role): one systemd unit per
worker, `oa-app@PORT.service`, all started and stopped by `oa-app.target`, whose Wants are the
enabled workers. Shared by `oa-ops status`, `oa-ops restore` and the compliance checks."""

from __future__ import annotations

from collections.abc import Iterable

APP_TARGET = "oa-app.target"
WORKER_PREFIX = "oa-app@"
_TEMPLATE = WORKER_PREFIX + ".service"  # the template unit itself, never a worker


def worker_units(units: Iterable[str]) -> list[str]:
    """The worker units among `units` (the target's Wants, or every unit a host has), sorted."""
    return sorted(unit for unit in units if unit.startswith(WORKER_PREFIX) and unit != _TEMPLATE)


def worker_port(unit: str) -> str:
    """oa-app@8888.service -> 8888"""
    return unit.removeprefix(WORKER_PREFIX).removesuffix(".service")
