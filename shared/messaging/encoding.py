"""CloudEvents 1.0 in Kafka binary mode: attributes as ``ce_*`` headers, the event model as the
JSON body. ``encode`` writes them, ``decode`` reads and validates them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from pydantic import ValidationError

from shared import tracing
from shared.clock import utcnow
from shared.events import EVENT_TYPES, Event


class _BodyAsIs(JSONFormat):
    """The SDK reads and checks the attributes; the body is left as bytes, for pydantic to parse
    and validate in one pass (in Rust) instead of ``json.loads`` and a validation of the dict
    (a tenth of the notifier's CPU draining a backlog, docs/benchmarks.md)."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body


_ATTRIBUTES_ONLY = _BodyAsIs()


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The headers as a Kafka client sends them: (name, bytes) pairs."""
        return [(name, value.encode()) for name, value in self.headers.items()]

    def kafka_key(self) -> bytes | None:
        return self.key.encode() if self.key is not None else None


def encode(
    event: Event,
    *,
    topic: str,
    source: str,
    subject: str | None = None,
    key: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> OutgoingMessage:
    """One CloudEvent in Kafka binary mode: attributes as ``ce_*`` headers, the model as JSON.

    The headers are written here as the CloudEvents SDK's ``to_binary`` writes them (a test holds
    the two equal), not through it: building and validating the SDK's event object for each of
    the router's messages was a large part of routing's CPU (docs/benchmarks.md). Decoding stays the SDK's."""
    at = (time or utcnow()).isoformat()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_type": event.ce_type,
        "ce_source": source,
        "ce_time": at[:-6] + "Z" if at.endswith("+00:00") else at,
        "content-type": "application/json",
    }
    if subject:
        headers["ce_subject"] = subject
    headers |= tracing.trace_headers()  # the emitting span, when tracing is on
    # The body serialised by pydantic (in Rust) once.
    return OutgoingMessage(topic, key, headers, event.model_dump_json().encode())


@dataclass(frozen=True)
class ReceivedEvent:
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: Event
    record: ConsumerRecord = field(repr=False)


class PoisonMessage(Exception):
    """A message that no retry can fix: not a CloudEvent, an unknown type, or a bad body."""


def decode(record: ConsumerRecord) -> ReceivedEvent:
    headers = {name: value for name, value in (record.headers or ()) if value is not None}
    if "ce_id" not in headers or "ce_type" not in headers:
        raise PoisonMessage("not a CloudEvent in binary mode: ce_id or ce_type header missing")
    try:
        cloud_event = from_binary(KafkaMessage(headers, record.key, record.value or b""), _ATTRIBUTES_ONLY)
    except Exception as exc:  # the SDK raises several kinds for malformed attributes or JSON
        raise PoisonMessage(f"malformed CloudEvent: {exc}") from exc
    ce_type = cloud_event.get_type()
    if ce_type not in EVENT_TYPES:
        raise PoisonMessage(f"unknown event type {ce_type!r}")
    try:
        data = EVENT_TYPES[ce_type].model_validate_json(record.value or b"")
    except ValidationError as exc:
        raise PoisonMessage(f"{ce_type} body does not match its schema: {exc}") from exc
    return ReceivedEvent(
        id=cloud_event.get_id(),
        type=ce_type,
        source=cloud_event.get_source(),
        subject=cloud_event.get_subject(),
        time=cloud_event.get_time(),
        data=data,
        record=record,
    )
