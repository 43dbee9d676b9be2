"""One request, one trace (issue 30, item 5): with tracing on, the enterprise's POST to intake,
the router routing it, and the notifier starting its clocks and intake's read model showing the
items are spans of one trace, each consumer's span the child of the span that emitted its event
(the W3C trace context travels in the CloudEvents ``ce_traceparent`` header).

The three services run on a broker of their own (the session's shared system must not consume
this request), with OpenTelemetry's in-memory exporter in place of the OTLP one."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from cli.devstack import EmbeddedBroker, free_port
from services.notifier.models import SlaRecord
from shared import events, tracing
from shared.auth import mint_token
from shared.settings import SERVICES
from tests.support import MINGLUO, certificate_request, eventually, make_databases
from tests.support.system import settings_fields, start_system, stop_system


async def test_one_request_is_one_connected_trace_across_the_three_services(tmp_path):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    databases = await make_databases(tmp_path, list(SERVICES))
    fields = settings_fields(tmp_path, broker.bootstrap, databases.urls, scheduler_enabled=False)
    system = None
    try:
        system = await start_system(fields)
        runtimes, clients = system.runtimes, system.clients
        token = mint_token(runtimes["intake"].settings, role="enterprise", usccs=[MINGLUO])
        body = certificate_request(items=("tax", "customs"), certificate_anyway=["tax", "customs"])
        created = await clients["intake"].post("/v1/requests", json=body, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]

        async def clocked() -> bool:
            async with runtimes["notifier"].sessions() as session:
                count = select(func.count()).select_from(SlaRecord).where(SlaRecord.request_id == request_id)
                return await session.scalar(count) == 2

        await eventually(clocked, timeout=60)
        spans = await eventually(lambda: _spans_of_request(exporter), timeout=30)
    finally:
        if system is not None:
            await stop_system(system)
        broker.stop()
        for cleanup in databases.cleanup:
            await cleanup()
        tracing.configure(None)

    post = next(s for s in spans if s.kind == trace.SpanKind.SERVER and "POST" in s.name)
    in_trace = [s for s in spans if s.context.trace_id == post.context.trace_id]
    ids = {s.context.span_id for s in in_trace}
    consumed = [s for s in in_trace if s.kind == trace.SpanKind.CONSUMER]
    names = {(s.name, s.attributes["messaging.consumer.group.name"]) for s in consumed}
    print(f"\n[one request traced] spans_in_trace={len(in_trace)} consumer_spans={len(consumed)} {sorted(names)}")
    assert (f"process {events.RequestSubmitted.ce_type}", "router.dispatch") in names
    assert (f"process {events.WorkItemDispatched.ce_type}", "notifier.sla") in names
    assert (f"process {events.WorkItemDispatched.ce_type}", "intake.read-model") in names
    assert all(s.parent is not None and s.parent.span_id in ids for s in consumed), "every span's parent in the trace"
    routed = next(s for s in consumed if s.name == f"process {events.RequestSubmitted.ce_type}")
    clocked = next(s for s in consumed if s.attributes["messaging.consumer.group.name"] == "notifier.sla")
    assert routed.parent.span_id == post.context.span_id, "the router's span is the POST's child"
    assert clocked.parent.span_id == routed.context.span_id, "the notifier's span is the router's child"


def _spans_of_request(exporter: InMemorySpanExporter):
    spans = exporter.get_finished_spans()
    return spans if any(s.name == f"process {events.WorkItemDispatched.ce_type}" for s in spans) else None
