"""The Prometheus metrics of the messaging code: what a dashboard and the alert rules read."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_CONSUMED = Counter("xiaoer_events_consumed_total", "Events handled", ["consumer", "outcome"])
EVENTS_PUBLISHED = Counter("xiaoer_events_published_total", "Events published by the outbox relay", ["topic"])
CONSUMER_TRANSIENT_FAILURES = Counter(
    "xiaoer_consumer_transient_failures_total", "Records retried after a transient failure", ["consumer"]
)
OUTBOX_RELAY_ACTIVE = Gauge(
    "xiaoer_outbox_relay_active", "1 while this relay holds its outbox's lease and publishes it", ["relay"]
)
CONSUMER_REJOINS = Counter(
    "xiaoer_consumer_rejoins_total", "Consumers that joined their group afresh, and why", ["consumer", "reason"]
)
CONSUMER_STALLED = Gauge(
    "xiaoer_consumer_stalled", "1 while a consumer retries a record after a transient failure", ["consumer"]
)
