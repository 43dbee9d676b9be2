"""The production broker's ACLs for xiaoer's own services (cli/kafka_acls.py) against what the
running services really do on the broker: every topic a service's outbox wrote to, every topic and
group its consumers read, every topic it creates must be granted to that service's principal, and
nothing lets one service write another's events or pose as a department."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from cli.kafka_acls import OPS_USER, acl_script, allowed, service_grants, service_user
from shared import events
from tests.support import MINGLUO, certificate_request, eventually

GRANTS = service_grants("xiaoer")
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "service-acls.sh"


async def test_each_service_is_granted_what_it_does_on_the_broker(system):
    # Traffic on every path: a request routed, withdrawn, and a registry change announced.
    created = await system.intake.post(
        "/v1/requests",
        json=certificate_request(items=("tax", "customs")),
        headers=system.auth("enterprise", usccs=[MINGLUO]),
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]

    async def routed():
        r = await system.intake.get(f"/v1/requests/{request_id}", headers=system.auth("enterprise", usccs=[MINGLUO]))
        return len(r.json()["work_items"]) == 2

    await eventually(routed, timeout=30)
    withdrawn = await system.intake.post(
        f"/v1/requests/{request_id}/withdraw",
        json={"reason": "测试撤回"},
        headers=system.auth("enterprise", usccs=[MINGLUO]),
    )
    assert withdrawn.status_code == 202, withdrawn.text

    grants = service_grants(system.settings.kafka_group_prefix)  # the tests' groups have a prefix of their own
    for service, runtime in system.runtimes.items():
        user = service_user(service)
        async with runtime.sessions() as session:
            written = set(await session.scalars(select(runtime.outbox.c.topic).distinct()))
        assert written, f"{service} wrote nothing: the test would prove nothing"
        for topic in written:
            assert allowed(grants, user, "topic", topic, "Write"), f"{user} may not write {topic}"
        for topic in runtime.topics:  # what it creates at start and keeps there
            assert allowed(grants, user, "topic", topic, "Create"), f"{user} may not create {topic}"
            assert allowed(grants, user, "topic", topic, "Describe"), f"{user} may not describe {topic}"
        for consumer in runtime.consumers:
            assert allowed(grants, user, "group", consumer.group_id, "Read"), f"{user}: group {consumer.group_id}"
            for topic in consumer.topics:
                assert allowed(grants, user, "topic", topic, "Read"), f"{user} may not read {topic}"
                assert allowed(grants, user, "topic", events.dlq(topic), "Write"), f"{user}: {events.dlq(topic)}"


def test_no_service_writes_what_another_owns_or_reads_a_unit_inbox():
    intake, router, notifier = (service_user(s) for s in ("intake", "router", "notifier"))
    assert not allowed(GRANTS, intake, "topic", events.WORKITEMS_EVENTS, "Write")
    assert not allowed(GRANTS, notifier, "topic", events.REQUESTS_SUBMITTED, "Write")
    assert not allowed(GRANTS, intake, "topic", events.SLA_EVENTS, "Write")
    # The router writes every unit's inbox by prefix, yet may not pose as a department.
    assert allowed(GRANTS, router, "topic", events.dept_inbox("440112.tax"), "Write")
    assert not allowed(GRANTS, router, "topic", events.DEPT_RESPONSES, "Write")
    assert allowed(GRANTS, router, "topic", events.dlq(events.DEPT_RESPONSES), "Write")
    for user in (intake, router, notifier, OPS_USER):
        assert not allowed(GRANTS, user, "topic", events.dept_inbox("440112.tax"), "Read")
    assert not allowed(GRANTS, intake, "group", "xiaoer.router.dispatch", "Read")
    # Operators read dead letters and send them back, and nothing else.
    assert allowed(GRANTS, OPS_USER, "topic", events.dlq(events.REQUESTS_SUBMITTED), "Read")
    assert not allowed(GRANTS, OPS_USER, "topic", events.REQUESTS_SUBMITTED, "Read")


def test_the_compose_acl_script_is_generated_from_the_grants():
    assert SCRIPT.read_text() == acl_script(GRANTS), "deploy/kafka/service-acls.sh is stale: run `xiaoer schemas`"


def test_the_init_step_creates_each_services_user_and_applies_every_grant(tmp_path):
    """deploy/kafka/init.sh with Kafka's command-line tools faked at the edge (they record their
    arguments): each service user gets its SCRAM credential and each grant its kafka-acls call."""
    calls = tmp_path / "calls"
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        fake = tmp_path / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
        fake.chmod(0o755)
    passwords = {f"KAFKA_{s.upper()}_PASSWORD": f"pw-{s}" for s in ("intake", "router", "notifier", "ops")}
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", **passwords}
    done = subprocess.run(["sh", str(SCRIPT.parent / "init.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    for service in ("intake", "router", "notifier", "ops"):
        assert any(
            line.startswith("kafka-configs.sh --bootstrap-server 127.0.0.1:9095 --alter --entity-type users")
            and f"--entity-name xiaoer-{service} " in line
            and f"SCRAM-SHA-512=[password=pw-{service}]" in line
            for line in lines
        ), service
    acl_calls = [line for line in lines if line.startswith("kafka-acls.sh")]
    for grant in GRANTS:
        flag = f"--{grant.resource} {grant.name}"
        principal = f"--{'deny' if grant.deny else 'allow'}-principal User:{grant.principal}"
        assert any(
            principal in call
            and f"{flag} " in f"{call} "
            and all(f"--operation {op}" in call for op in grant.operations)
            and ("--resource-pattern-type prefixed" in call) == grant.prefixed
            and "--bootstrap-server 127.0.0.1:9095" in call
            for call in acl_calls
        ), grant
