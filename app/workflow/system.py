"""System task nodes: steps with no human, done by a handler the owning feature registers.

A flow definition names the work with a node of type `system` and an action name; the feature
that owns the instances (its `business_type`) registers the function that does it, usually in
its `Feature.on_start`. See the package docstring for an example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.context import RequestContext

ANY_BUSINESS = "*"


@dataclass(frozen=True)
class SystemStep:
    """What a system handler is told; it returns form updates (or None)."""

    ctx: RequestContext
    instance_id: int
    flow_code: str
    business_type: str
    business_id: str
    node_key: str
    node_name: str
    action: str
    urgency: int
    initiator_id: int
    form: dict[str, Any] = field(default_factory=dict)


SystemHandler = Callable[[SystemStep], dict[str, Any] | None]
_handlers: dict[tuple[str, str], SystemHandler] = {}


def register_system_action(business_type: str, action: str, handler: SystemHandler) -> None:
    """Register the function doing `action` for instances of `business_type` ("*": any)."""
    _handlers[(business_type, action)] = handler


def unregister_system_action(business_type: str, action: str) -> None:
    _handlers.pop((business_type, action), None)


def handler_for(business_type: str, action: str) -> SystemHandler | None:
    return _handlers.get((business_type, action)) or _handlers.get((ANY_BUSINESS, action))
