"""One measured request, as the load generator records it and the report reads it (a module
of its own so the report can be built and tested without the client's dependencies)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sample:
    action: str
    latency: float
    ok: bool
    status: int
    size: int = 0  # bytes of the response body (as the page is, before gzip)
    at: float = 0.0  # wall-clock time (time.time()) the response arrived
