"""The production image, run: `make image-test` (after `make image`).

Its containers, each one role as docker-compose.yml and deploy/k8s/ run them (`api intake`,
`worker router`, …), run on the host network against this machine's PostgreSQL (fresh databases,
dropped afterwards) and an embedded Kafka-protocol broker, and the README's request goes through
them: 201 from intake, eight work items routed by the router's worker, the notifier's clocks."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import httpx
import pytest

from cli.devstack import EmbeddedBroker, free_port
from deploy.tests.containers import (
    IMAGE,
    SIGNING_CA_IN_CONTAINER,
    daemon_answers,
    docker,
    inspect,
    logs,
    signing_ca,
    wait_healthy,
)
from tests.support import eventually, postgres_databases, read_topic

SERVICES = ("intake", "router", "notifier")
README_REQUEST = {
    "type": "compliance_certificate",
    "enterprise": {"uscc": "91440112MA59C5XK03", "name": "广州明珞装备股份有限公司", "region_code": "440112"},
    "subjects": [{"uscc": "91310115MA1H7A8K5W", "name": "明珞(上海)科技有限公司", "region_code": "310115"}],
    "items": ["tax", "customs", "development_reform", "commerce"],
    "period_months": 36,
    "purpose": "ipo",
    "contact": {"name": "张三", "mobile": "13800138000"},
}


async def register_the_subsidiary(intake: str, admin_token: str) -> None:
    """The README's subject is another company: an admin registers it as the applicant's
    subsidiary first (the enterprise-group registry), or the request needs its 授权委托书."""
    parent, (subject,) = README_REQUEST["enterprise"], README_REQUEST["subjects"]
    async with httpx.AsyncClient(base_url=intake, headers={"Authorization": f"Bearer {admin_token}"}) as client:
        response = await client.put(
            f"/v1/relations/{parent['uscc']}/{subject['uscc']}",
            json={"parent_name": parent["name"], "parent_region": parent["region_code"],
                  "subject_name": subject["name"], "subject_region": subject["region_code"]},
        )  # fmt: skip
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    embedded = EmbeddedBroker(port=free_port(), log_path=tmp_path_factory.mktemp("broker") / "broker.log")
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
async def deployment(broker, tmp_path_factory):
    """migrate and seed as one-shot containers, then an API and a worker container per service
    and the pages; yields the environment they share, the ports and the containers' names."""
    daemon_answers()
    ca_dir = tmp_path_factory.mktemp("signing")
    ca_password = signing_ca(ca_dir)
    prefix = f"xiaoer-image-test-{uuid.uuid4().hex[:6]}"
    ports = {name: free_port() for name in (*SERVICES, "web")}
    metrics = {name: free_port() for name in SERVICES}
    async with postgres_databases([*SERVICES, "web"]) as urls:
        env = {
            "XIAOER_ENV": "production",
            "XIAOER_HOST": "127.0.0.1",
            "XIAOER_JWT_SECRET": secrets.token_urlsafe(48),
            "XIAOER_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "XIAOER_KAFKA_TOPIC_PARTITIONS": "3",
            "XIAOER_SIGNING_CA": "file",
            "XIAOER_SIGNING_CA_PATH": SIGNING_CA_IN_CONTAINER,
            "XIAOER_SIGNING_CA_PASSWORD": ca_password,
            **{f"XIAOER_{name.upper()}_DATABASE_URL": url for name, url in urls.items()},
            **{f"XIAOER_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        flags = [f"--env={key}={value}" for key, value in env.items()]
        flags.append(f"--volume={ca_dir}:{Path(SIGNING_CA_IN_CONTAINER).parent}:ro")
        run = ["run", "--rm", "--network", "host", *flags, IMAGE]
        docker(*run, "migrate")
        docker(*run, "seed")
        containers = []
        try:
            for name in SERVICES:
                for role, extra in (("api", []), ("worker", [f"--env=WORKER_METRICS_PORT={metrics[name]}"])):
                    container = f"{prefix}-{name}-{role}"
                    docker("run", "-d", "--name", container, "--network", "host", *flags, *extra, IMAGE, role, name)
                    containers.append(container)
            docker("run", "-d", "--name", f"{prefix}-web", "--network", "host", *flags, IMAGE, "api", "web")
            containers.append(f"{prefix}-web")
            yield {"env": env, "flags": flags, "ports": ports, "metrics": metrics, "containers": containers}
        finally:
            for container in containers:
                if inspect(container)["State"]["Status"] != "running":
                    print(container, logs(container))
                docker("rm", "--force", container, check=False)


def test_the_image_runs_as_an_unprivileged_user_with_a_health_check():
    config = inspect(IMAGE)["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"] == ["CMD", "xiaoer-healthcheck"]
    assert config["Entrypoint"] == ["xiaoer-entrypoint"]
    whoami = docker("run", "--rm", "--network", "host", "--entrypoint", "id", IMAGE, "-u").stdout.strip()
    assert whoami == "10001"
    assert "usage: xiaoer" in docker("run", "--rm", "--network", "host", IMAGE, "--help").stdout


def test_the_image_renders_a_certificate_in_chinese():
    """WeasyPrint with Pango and Noto Serif CJK SC, as the unprivileged user (docs/certificates.md)."""
    script = (
        "from weasyprint import HTML\n"
        "from services.router.documents.templates import cjk_fonts\n"
        "print(sorted(cjk_fonts()))\n"
        "page = HTML(string='<p style=\"font-family: Noto Serif CJK SC\">无违法违规证明</p>')\n"
        "pdf = page.write_pdf(uncompressed_pdf=True)\n"
        "print(pdf[:5].decode(), b'+Noto-Serif-CJK-SC' in pdf)\n"  # the font embedded, as a subset
    )
    result = docker("run", "--rm", "--network", "host", "--entrypoint", "python", IMAGE, "-c", script)
    assert result.stdout.split("\n")[:2] == ["['Noto Serif CJK SC']", "%PDF- True"], result
    assert "error" not in result.stderr.lower(), result.stderr


async def test_every_role_turns_healthy_and_the_readme_request_goes_through(deployment):
    took = wait_healthy(deployment["containers"], timeout=180)
    print(f"all {len(deployment['containers'])} containers healthy {took:.0f} s after start")
    enterprise = token(deployment, "--role", "enterprise", "--uscc", "91440112MA59C5XK03", "--name", "张三")
    headers = {"Authorization": f"Bearer {enterprise}"}
    intake = f"http://127.0.0.1:{deployment['ports']['intake']}"
    await register_the_subsidiary(intake, token(deployment, "--role", "admin", "--sub", "group-registry-admin"))
    async with httpx.AsyncClient(base_url=intake, headers=headers, timeout=10) as client:
        created = await client.post("/v1/requests", json=README_REQUEST)
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "submitted"

        async def routed():
            items = (await client.get(f"/v1/requests/{created.json()['id']}")).json().get("work_items", [])
            return items if len(items) == 8 else None

        items = await eventually(routed, timeout=30, interval=0.5)
    # Each item routed to its unit (the 信用代证 ones wait for the enterprise's credit report).
    assert {item["status"] for item in items} <= {"dispatched", "credit_report"}, items
    tax = next(i for i in items if i["unit_code"] == "440112.tax")
    assert tax["status"] == "dispatched"
    inbox = await read_topic(
        deployment["env"]["XIAOER_KAFKA_BOOTSTRAP_SERVERS"],
        "dept.440112.tax.inbox",
        until=lambda records: any(r.key and r.key.decode() == tax["id"] for r in records),
        timeout=30,
    )
    assert inbox
    # The notifier's worker started the item's clocks.
    admin = token(deployment, "--role", "admin")
    notifier = f"http://127.0.0.1:{deployment['ports']['notifier']}"
    async with httpx.AsyncClient(base_url=notifier, headers={"Authorization": f"Bearer {admin}"}) as client:
        try:
            sla = await eventually(lambda: _ok(client.get(f"/v1/sla/{tax['id']}")), timeout=30, interval=0.5)
        except AssertionError as exc:
            worker = next(c for c in deployment["containers"] if c.endswith("-notifier-worker"))
            answer = (await client.get(f"/v1/sla/{tax['id']}")).text
            raise AssertionError(f"{exc}\n{answer}\n{logs(worker)}") from exc
    assert sla["acknowledge_due_at"]


async def _ok(response_coroutine):
    response = await response_coroutine
    return response.json() if response.status_code == 200 else None


def token(deployment, *args: str) -> str:
    """A token as the README mints one: ``xiaoer token`` in the image, with the deployment's key."""
    return docker("run", "--rm", "--network", "host", *deployment["flags"], IMAGE, "token", *args).stdout.strip()


def test_a_worker_serves_its_metrics(deployment):
    router_worker = f"http://127.0.0.1:{deployment['metrics']['router']}/metrics"
    text = httpx.get(router_worker, timeout=5).text
    assert 'xiaoer_events_consumed_total{consumer="router.dispatch",outcome="handled"} 1.0' in text
    assert "xiaoer_outbox_relay_active" in text


async def test_the_health_check_fails_when_the_api_is_not_ready(deployment):
    """The same HEALTHCHECK in a container whose API cannot reach its database answers 1."""
    name = f"xiaoer-image-test-{uuid.uuid4().hex[:6]}-unready"
    port = free_port()
    replaced = ("--env=XIAOER_ROUTER_DATABASE_URL=", "--env=XIAOER_ROUTER_PORT=")
    flags = [f for f in deployment["flags"] if not f.startswith(replaced)]
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    docker(
        "run", "-d", "--name", name, "--network", "host", *flags,
        f"--env=XIAOER_ROUTER_PORT={port}", f"--env=XIAOER_ROUTER_DATABASE_URL={nowhere}",
        IMAGE, "api", "router",
    )  # fmt: skip
    try:

        async def alive():
            try:
                async with httpx.AsyncClient() as plain:
                    return (await plain.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(alive, timeout=60, interval=0.5)
        result = docker("exec", name, "xiaoer-healthcheck", check=False)
        assert result.returncode == 1 and "503" in result.stderr, result
    finally:
        docker("rm", "--force", name, check=False)
