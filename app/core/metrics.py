"""Prometheus metrics. Under several worker processes, `OA_METRICS_DIR` (set by the server)
switches prometheus-client to its multiprocess mode so one scrape sums every worker."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_LATENCY = Histogram(
    "oa_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10),
)


_latency_by_labels: dict[tuple[str, str, int], Any] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One request's latency. The labelled child is kept per (route, method, status): routes
    are the application's patterns, so there are a few hundred at most, and `labels()` took a
    lock and checked its arguments on every request (bench/README.md, finding 38)."""
    key = (route, method, status)
    child = _latency_by_labels.get(key)
    if child is None:
        child = _latency_by_labels[key] = REQUEST_LATENCY.labels(
            route=route, method=method, status=str(status))
    child.observe(seconds)


def render(active_sessions: int) -> tuple[bytes, str]:
    """The exposition text for a scrape, with the live-session gauge read at scrape time."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    gauge = (
        "# HELP oa_active_sessions Live (not expired, not ended) user sessions\n"
        "# TYPE oa_active_sessions gauge\n"
        f"oa_active_sessions {active_sessions}\n"
    ).encode()
    return body + gauge, CONTENT_TYPE_LATEST
