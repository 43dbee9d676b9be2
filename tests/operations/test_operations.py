"""What ops teams rely on: health, readiness and metrics endpoints, authentication on every
other endpoint, settings that refuse insecure production defaults, the compose file matching the
code, and the events' published JSON Schemas matching the models."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from pydantic import ValidationError

from cli.kafka_acls import service_user
from cli.main import parser
from services.intake.settings import IntakeSettings
from services.notifier.settings import NotifierSettings
from services.router.settings import RouterSettings
from services.web.settings import WebSettings
from shared.events import json_schemas
from shared.settings import SERVICES, Settings
from tests.support import MINGLUO

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", SERVICES)
async def test_health_readiness_and_metrics(system, service):
    client = system.clients[service]
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
    await client.get("/healthz", headers={"X-Request-ID": "req-123"})
    metrics = (await client.get("/metrics")).text
    assert f'xiaoer_http_requests_total{{method="GET",route="/healthz",service="{service}",status="200"}}' in metrics


async def test_readiness_fails_when_a_worker_has_stopped(system, tmp_path):
    from services.intake import main as intake_main
    from tests.support.system import make_settings

    settings = make_settings(
        "intake",
        tmp_path,
        system.settings.kafka_bootstrap_servers,
        {"intake": f"sqlite+aiosqlite:///{tmp_path}/intake.db"},
    )
    runtime = intake_main.build_runtime(settings)
    runtime.consumers.clear()
    await runtime.migrate()
    await runtime.start_workers()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_main.build_app(runtime)), base_url="http://i")
    try:
        assert (await client.get("/readyz")).json()["checks"]["workers"] == "ok"
        relay = next(t for t in runtime.worker_tasks if t.get_name() == "intake.relay")
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "intake.relay" in ready.json()["checks"]["workers"]
    finally:
        await client.aclose()
        await runtime.stop()


async def test_request_id_is_echoed_and_generated(system):
    echoed = await system.intake.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await system.intake.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("intake", "GET", "/v1/requests/some-id"),
        ("intake", "POST", "/v1/requests"),
        ("router", "GET", "/v1/units"),
        ("notifier", "GET", "/v1/sla/some-id"),
    ],
)
async def test_endpoints_need_a_valid_token(system, service, method, path):
    client = system.clients[service]
    missing = await client.request(method, path)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "unauthenticated"

    forged = jwt.encode(
        {"sub": "x", "role": "admin", "iss": "xiaoer", "exp": 4102444800},
        "a-wrong-key-that-is-long-enough-0123456789",
        "HS256",
    )
    bad = await client.request(method, path, headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"

    expired = system.token("admin", ttl_seconds=-10)
    old = await client.request(method, path, headers={"Authorization": f"Bearer {expired}"})
    assert old.status_code == 401


async def test_errors_are_bilingual_problem_json(system):
    headers = system.auth("enterprise", usccs=[MINGLUO])
    zh = await system.intake.get("/v1/requests/nope", headers=headers)
    en = await system.intake.get("/v1/requests/nope", headers={**headers, "Accept-Language": "en-US,en;q=0.9"})
    assert zh.status_code == en.status_code == 404
    assert zh.json()["title"] == "诉求不存在"
    assert en.json()["title"] == "Request not found"


def test_production_refuses_to_start_without_a_signing_key():
    with pytest.raises(ValidationError, match="XIAOER_JWT_SECRET"):
        Settings(_env_file=None, env="production")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None, env="production", jwt_secret="short")
    key = "k" * 32
    assert Settings(_env_file=None, env="production", jwt_secret=key).signing_key == key


def test_development_key_is_generated_once_and_kept(tmp_path):
    first = Settings(_env_file=None, var_dir=tmp_path).signing_key
    second = Settings(_env_file=None, var_dir=tmp_path).signing_key
    assert first == second and len(first) >= 32


def test_token_command_mints_a_token_the_services_accept(tmp_path):
    env = {"XIAOER_JWT_SECRET": "a-cli-signing-key-of-enough-length-42", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "cli", "token", "--role", "liaison", "--uscc", MINGLUO, "--uscc", "X"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout.strip()
    claims = jwt.decode(out, "a-cli-signing-key-of-enough-length-42", algorithms=["HS256"], issuer="xiaoer")
    assert claims["role"] == "liaison" and claims["usccs"] == [MINGLUO, "X"]
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "token", "--role", "department"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert refused.returncode != 0 and "unit code" in refused.stderr


def test_compose_file_names_only_what_the_code_has():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "postgres", "minio", "migrate"} <= services.keys()
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller", "Kafka runs in KRaft mode"
    known_settings = {
        f"XIAOER_{name.upper()}"
        for cls in (IntakeSettings, RouterSettings, NotifierSettings, WebSettings)
        for name in cls.model_fields
    }
    for name, service in services.items():
        one_shot = name in ("migrate", "kafka-init")
        assert "healthcheck" in service or one_shot, f"{name} has no health check"
        for variable in service.get("environment", {}):
            if variable.startswith("XIAOER_"):
                assert variable in known_settings, f"{name}: {variable} is not a setting"
        if "command" in service and service.get("image") == "xiaoer:latest":
            assert parser().parse_args(service["command"]), f"{name}: not a xiaoer command: {service['command']}"
    for svc in SERVICES:
        default_port = Settings.model_fields[f"{svc}_port"].default
        assert services[svc]["ports"] == [f"{default_port}:{default_port}"]
        assert services[svc]["command"] == ["api", svc]
        assert services[f"{svc}-worker"]["command"] == ["worker", svc]
    assert services["web"]["command"] == ["api", "web"] and services["web"]["ports"] == ["8003:8003"]
    # Every Kafka client logs in: each service as its own user (cli/kafka_acls.py grants it
    # only its topics), over TLS; no PLAINTEXT listener outside the kafka container's own 127.0.0.1.
    kafka = services["kafka"]["environment"]
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in kafka["KAFKA_LISTENERS"].split(","):
        name, _, address = listener.partition("://")
        assert protocols[name] == "SASL_SSL" or address.startswith("127.0.0.1:"), listener
    assert services["kafka-init"]["network_mode"] == "service:kafka"
    for svc in SERVICES:
        for container in (svc, f"{svc}-worker"):
            env = services[container]["environment"]
            assert env["XIAOER_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", container
            assert env["XIAOER_KAFKA_USERNAME"] == service_user(svc), container
            assert env["XIAOER_KAFKA_PASSWORD"].startswith(f"${{KAFKA_{svc.upper()}_PASSWORD"), container
    assert (ROOT / services["migrate"]["build"]["dockerfile"]).exists()


def test_published_event_schemas_match_the_models():
    for ce_type, schema in json_schemas().items():
        path = ROOT / "docs" / "schemas" / f"{ce_type}.json"
        assert path.exists(), f"run `xiaoer schemas`: {path} is missing"
        assert json.loads(path.read_text()) == schema, f"run `xiaoer schemas`: {path} is stale"


def test_asyncapi_document_agrees_with_the_event_schemas():
    from shared import events

    document = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    by_type = {m["name"]: m for m in messages.values()}
    assert set(by_type) == set(events.EVENT_TYPES), "every event type is described, and nothing else"
    shared = document["components"]["schemas"]
    for ce_type, message in by_type.items():
        published = json.loads((ROOT / "docs" / "schemas" / f"{ce_type}.json").read_text())
        # The shared types live once in components.schemas (a $ref resolves against the whole
        # document); put back as the payload's own $defs, the payload is the published schema.
        named, todo = set(), [message["payload"]]
        while todo:
            for name in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(todo.pop())):
                if name not in named:
                    named.add(name)
                    todo.append(shared[name])
        with_defs = (
            {**message["payload"], "$defs": {name: shared[name] for name in named}} if named else message["payload"]
        )
        as_published = json.loads(json.dumps(with_defs).replace('"#/components/schemas/', '"#/$defs/'))
        assert as_published == published == events.EVENT_TYPES[ce_type].model_json_schema(), ce_type
        assert "ce_id" in message["headers"]["required"]
    addresses = {c["address"]: c for c in document["channels"].values()}
    for topic in (
        events.REQUESTS_SUBMITTED,
        events.REQUESTS_UPDATES,
        events.DEPT_RESPONSES,
        events.WORKITEMS_EVENTS,
        events.SLA_EVENTS,
        "dept.{unit_code}.inbox",
    ):
        assert topic in addresses, topic
    for topic, spec in events.TOPICS.items():
        refs = {ref["$ref"].rsplit("/", 1)[1] for ref in addresses[topic]["messages"].values()}
        assert {messages[r]["name"] for r in refs} == {m.ce_type for m in spec["messages"]}
    assert "dept.responses.dlq" in addresses


@pytest.mark.parametrize(
    ("service", "path", "params", "field", "code"),
    [
        ("intake", "/v1/requests", {"from": "2025-01-01T00:00:00"}, "from", "timezone_aware"),
        ("intake", "/v1/requests", {"from": "0001-01-01T00:00:00+08:00"}, "from", "instant_out_of_range"),
        ("intake", "/v1/ledger", {"to": "9999-12-31T23:59:59Z"}, "to", "instant_out_of_range"),
        ("router", "/v1/workitems", {"due_before": "0001-01-01T00:00:00Z"}, "due_before", "instant_out_of_range"),
        ("notifier", "/v1/stats/units", {"from": "0001-01-01"}, "from", "date_out_of_range"),
        (
            "intake",
            "/v1/attachments/x/download",
            {"expires": "1", "signature": "é" * 64},
            "signature",
            "string_pattern_mismatch",
        ),
    ],
)
async def test_odd_query_parameters_are_clear_422s_not_500s(system, service, path, params, field, code):
    """Found by schemathesis against the running services; kept here as regressions."""
    response = await system.clients[service].get(path, params=params, headers=system.auth("admin"))
    assert response.status_code == 422, response.text
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in response.json()["errors"]
    ]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_docs_load_nothing_from_the_internet(system, service, page):
    client = system.clients[service]
    html = (await client.get(page)).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page names its scripts and styles"
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the service itself"
        assert (await client.get(asset)).status_code == 200, asset
