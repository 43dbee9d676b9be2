"""Traces across HTTP and Kafka (OpenTelemetry), off unless ``XIAOER_TRACING_ENABLED``.

One request becomes one trace: intake's HTTP span, and every event it leads to — on
``requests.submitted``, the router's work items on ``workitems.events``, the notifier's clocks —
a span whose parent is the span that emitted it. The W3C trace context travels in each CloudEvent
as the distributed-tracing extension (``ce_traceparent`` and ``ce_tracestate`` Kafka headers), set
when the event is added to the outbox (``trace_headers``) and taken up by the consumer that
applies it (``consuming``). Spans go to an OTLP collector over HTTP
(``XIAOER_TRACING_OTLP_ENDPOINT``, e.g. Jaeger or Tempo behind an OpenTelemetry Collector).

With tracing off nothing is configured: the tracer is OpenTelemetry's no-op, no header is written,
and consumers apply a fetched batch together. With it on, consumers apply events one by one, each
in its own span, so every event they emit names the right parent (a backlog drains slower).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.settings import Settings

# The CloudEvents distributed-tracing extension's attributes, as Kafka binary-mode headers.
HEADERS = {"traceparent": "ce_traceparent", "tracestate": "ce_tracestate"}

_provider: TracerProvider | None = None


def enabled() -> bool:
    return _provider is not None


def configure(provider: TracerProvider | None) -> None:
    """Sets (or, with None, removes) the provider every tracer of xiaoer comes from."""
    global _provider
    _provider = provider


def setup(settings: Settings, service: str, exporter: SpanExporter | None = None) -> None:
    """Configures tracing for a process from its settings (once; later calls change nothing)."""
    if _provider is not None or not (settings.tracing_enabled or exporter is not None):
        return
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.tracing_otlp_endpoint)
    provider = TracerProvider(resource=Resource.create({"service.name": f"xiaoer-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    configure(provider)


def tracer(name: str) -> trace.Tracer:
    return _provider.get_tracer(name) if _provider is not None else trace.NoOpTracer()


def instrument(app: FastAPI) -> None:
    """HTTP server spans for an app, when tracing is on."""
    if _provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider)


def trace_headers() -> dict[str, str]:
    """The current span's context as CloudEvents extension headers (none when tracing is off)."""
    if _provider is None:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {HEADERS[name]: value for name, value in carrier.items() if name in HEADERS}


@contextlib.contextmanager
def consuming(ce_type: str, headers: dict[str, str], consumer: str) -> Iterator[None]:
    """A span for applying one event, child of the span that emitted it."""
    if _provider is None:
        yield
        return
    carrier = {name: headers[header] for name, header in HEADERS.items() if header in headers}
    parent = propagate.extract(carrier)
    token = context.attach(parent)
    try:
        with tracer("xiaoer.messaging").start_as_current_span(
            f"process {ce_type}",
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.consumer.group.name": consumer},
        ):
            yield
    finally:
        context.detach(token)
