"""In-transaction domain events, so one feature can react to another's change without the
announcing feature importing it (org announces a new user; auth gives it the default role).

Subscribers run synchronously inside the publisher's unit of work: their writes commit or roll
back with it. Register in `Feature.on_start` (and wherever the app is not started, such as CLI
commands, via the same registration function).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from app.core.context import RequestContext

Subscriber = Callable[..., None]

USER_CREATED = "org.user.created"  # payload: user_id

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(event: str, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[event]:
        _subscribers[event].append(subscriber)


def publish(event: str, ctx: RequestContext, **payload: Any) -> None:
    for subscriber in list(_subscribers[event]):
        subscriber(ctx, **payload)
