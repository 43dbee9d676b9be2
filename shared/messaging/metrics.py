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
CONSUMER_PLACES_RESET = Counter(
    "xiaoer_consumer_places_reset_total",
    "Partitions read again from their start: the consumer's place lay past their end (topic re-created)",
    ["consumer"],
)
CONSUMER_STALLED = Gauge(
    "xiaoer_consumer_stalled", "1 while a consumer retries a record after a transient failure", ["consumer"]
)
CONSUMER_LAG = Gauge(
    "xiaoer_consumer_lag",
    "Records behind the partition's end, as of the consumer's last fetch",
    ["consumer", "topic", "partition"],
)
OUTBOX_OLDEST_UNSENT = Gauge(
    "xiaoer_outbox_oldest_unsent_seconds",
    "Age of the oldest outbox row not yet published (0 when none), seen by the active relay",
    ["service"],
)
BROKER_LOSS_DETECTED = Counter(
    "xiaoer_broker_loss_detected_total",
    "Times the relay found the broker had lost events it acknowledged",
    ["service"],
)
EVENTS_REPUBLISHED = Counter(
    "xiaoer_events_republished_total", "Outbox events published again after the broker lost them", ["service"]
)
DEPENDENCY_UP = Gauge(
    "xiaoer_dependency_up", "1 when the dependency answered its last check", ["service", "dependency"]
)
