"""Events on the wire: ``shared.messaging.encoding.encode`` writes CloudEvents in Kafka binary mode by hand (for
speed), so it is held here to what the CloudEvents SDK writes, and read back by the SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiokafka import ConsumerRecord
from cloudevents.core.bindings.kafka import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared import events
from shared.clock import utcnow
from shared.messaging.encoding import decode, encode


def withdrawal() -> events.RequestWithdrawn:
    return events.RequestWithdrawn(
        request_id="r-1",
        reason="重复提交",
        actor=events.Actor(role="enterprise", id="u-1", name="张三"),
        occurred_at=utcnow() - timedelta(minutes=3),
    )


def sdk_binary(event: events.Event, *, source: str, event_id: str, at: datetime, subject: str | None):
    attributes = {"id": event_id, "type": event.ce_type, "source": source, "time": at}
    attributes["datacontenttype"] = "application/json"
    if subject:
        attributes["subject"] = subject
    message = to_binary(CloudEvent(attributes, event.model_dump_json().encode()), JSONFormat())
    return {name: value.decode() for name, value in message.headers.items()}, message.value


@pytest.mark.parametrize(
    "at, subject",
    [
        (utcnow(), "request/r-1"),
        (utcnow() - timedelta(days=1, microseconds=7), None),
        (datetime.now(ZoneInfo("Asia/Shanghai")), "request/r-1"),  # a time not in UTC keeps its offset
        (datetime.now(UTC).replace(microsecond=0), None),
    ],
)
def test_encode_writes_what_the_sdk_writes(at, subject):
    event = withdrawal()
    message = encode(event, topic="requests.updates", source="/xiaoer/intake", subject=subject, key="r-1", time=at)
    ce_id = message.headers["ce_id"]
    assert (message.headers, message.value) == sdk_binary(
        event, source="/xiaoer/intake", event_id=ce_id, at=at, subject=subject
    )


def test_encoded_events_decode_to_the_same_event():
    event = withdrawal()
    at = utcnow()
    message = encode(
        event, topic="requests.updates", source="/xiaoer/intake", subject="request/r-1", key="r-1", time=at
    )
    record = ConsumerRecord(
        "requests.updates",
        0,
        0,
        0,
        0,
        message.key.encode(),
        message.value,
        None,
        len(message.key),
        len(message.value),
        message.kafka_headers(),
    )
    received = decode(record)
    assert (received.id, received.type, received.source, received.subject) == (
        message.headers["ce_id"],
        "cn.xiaoer.request.withdrawn",
        "/xiaoer/intake",
        "request/r-1",
    )
    assert received.time == at
    assert received.data == event


def test_every_message_gets_its_own_id():
    first, second = (encode(withdrawal(), topic="t", source="/xiaoer/intake") for _ in range(2))
    assert first.headers["ce_id"] != second.headers["ce_id"]
