"""Prometheus metrics of the HTTP API, in a registry owned by the app (no process-global collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class HttpMetrics:
    """Request counts and latencies by route template (never by raw path: ids would explode cardinality)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "jiayi_http_requests", "HTTP requests handled", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "jiayi_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.logins = Counter("jiayi_logins", "Login attempts by outcome", ["outcome"], registry=registry)
