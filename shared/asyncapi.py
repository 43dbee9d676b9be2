"""Builds the AsyncAPI 3.0 description of xiaoer's topics from the event models, so the
document department developers read cannot drift from the code (``xiaoer schemas``).

An event's JSON Schema keeps the types it shares with others in its own ``$defs`` (``Actor``,
``Subject``, …). In an AsyncAPI document a ``$ref`` resolves against the whole document, where
``#/$defs/…`` does not exist: the official parser, Studio and the generators refuse it. So each
shared type is written once, under ``components.schemas``, and the payloads point there; the
per-event schema files (``docs/schemas/``) keep their own ``$defs``."""

from __future__ import annotations

from typing import Any

from shared.events import TOPICS, dlq

CE_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0, Kafka binary content mode",
    "required": ["ce_id", "ce_type", "ce_source", "ce_specversion"],
    "properties": {
        "ce_id": {"type": "string", "description": "unique per event; consumers deduplicate by it"},
        "ce_type": {"type": "string"},
        "ce_source": {"type": "string", "examples": ["/xiaoer/router", "/departments/440112.tax"]},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "the request or work item id"},
        "ce_specversion": {"const": "1.0"},
        "content-type": {"const": "application/json"},
        "ce_traceparent": {
            "type": "string",
            "description": "W3C trace context (CloudEvents distributed-tracing extension): the span that "
            "published the event, so a consumer's work joins the same trace; absent when tracing is off",
            "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
        },
        "ce_tracestate": {"type": "string", "description": "W3C tracestate, when the tracer sets one"},
    },
}


LOCAL_DEFS = "#/$defs/"
COMPONENT_SCHEMAS = "#/components/schemas/"


def _pointing_at_components(node: Any) -> Any:
    """A copy of a schema with every ``#/$defs/X`` reference turned into ``#/components/schemas/X``."""
    if isinstance(node, dict):
        return {
            key: (
                COMPONENT_SCHEMAS + value.removeprefix(LOCAL_DEFS)
                if key == "$ref" and isinstance(value, str) and value.startswith(LOCAL_DEFS)
                else _pointing_at_components(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_pointing_at_components(item) for item in node]
    return node


def payload_schema(model: type, shared: dict[str, Any]) -> dict[str, Any]:
    """The event's schema without its ``$defs``, which go into ``shared`` (the document's
    ``components.schemas``). Two events naming different types alike would make one of them
    wrong: refused here, so ``xiaoer schemas`` fails rather than writing it."""
    schema = model.model_json_schema()
    for name, definition in schema.pop("$defs", {}).items():
        definition = _pointing_at_components(definition)
        if shared.setdefault(name, definition) != definition:
            raise ValueError(f"{model.__name__}: a different type is already called {name}")
    return _pointing_at_components(schema)


def _channel_id(topic: str) -> str:
    return topic.replace("{", "").replace("}", "").replace(".", "_")


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic, spec in TOPICS.items():
        channel = _channel_id(topic)
        refs = {}
        for model in spec["messages"]:
            name = model.ce_type.removeprefix("cn.xiaoer.").replace(".", "_")
            messages[name] = {
                "name": model.ce_type,
                "title": model.__name__,
                "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
                "contentType": "application/json",
                "headers": CE_HEADERS,
                "payload": payload_schema(model, schemas),
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel] = {"address": topic, "description": spec["description"], "messages": refs}
        if "{unit_code}" in topic:
            channels[channel]["parameters"] = {
                "unit_code": {"description": "e.g. 440112.tax", "examples": ["440112.tax"]}
            }
        operations[f"send_{channel}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{spec['from']} publishes",
        }
        operations[f"receive_{channel}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"read by {', '.join(spec['to'])}",
        }
    for topic in (dlq(t) for t in TOPICS if "{" not in t):
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": "Dead letters: the original message plus x-error, x-original-topic, x-original-partition, "
            "x-original-offset and x-consumer headers.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "xiaoer (店小二) events",
            "version": "0.1.0",
            "description": "Topics and CloudEvents exchanged by intake, router, notifier and department systems.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {"host": "kafka:9092", "protocol": "kafka", "description": "Apache Kafka (KRaft)"},
            "embedded": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "Tansu, for laptops and tests"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }
