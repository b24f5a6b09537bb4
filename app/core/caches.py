"""Per-process caches of data that never changes once written (e.g. a published flow
version). They need no invalidation in service; only a database emptied under a running
process (the tests' truncation between tests) must clear them, through `clear_all`."""

from __future__ import annotations

from collections.abc import Callable

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> None:
    if clear not in _clearers:
        _clearers.append(clear)


def clear_all() -> None:
    for clear in _clearers:
        clear()
