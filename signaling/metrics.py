"""Prometheus metrics of the hub, registered in the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HubMetrics:
    """Connections, events by outcome, and event handling time."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.connections = Gauge(
            "jiayi_socketio_connections",
            "Open Socket.IO connections on this node",
            ["namespace"],
            registry=registry,
        )
        self.events = Counter(
            "jiayi_socketio_events",
            "Socket.IO events handled",
            ["namespace", "event", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "jiayi_socketio_event_seconds",
            "Socket.IO event handling time, ack included",
            ["namespace", "event"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )
