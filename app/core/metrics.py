"""Prometheus metrics. Under several worker processes, `OA_METRICS_DIR` (set by the server)
switches prometheus-client to its multiprocess mode so one scrape sums every worker."""

from __future__ import annotations

import os

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


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(route=route, method=method, status=str(status)).observe(seconds)


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
