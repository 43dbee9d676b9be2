"""docker-compose.yml, started: `make compose-test` (after `make image`).

The production compose file with docker-compose.standins.yml over it (stand-ins built from Debian
packages for the images that cannot be pulled, host networking, ports out of the way, PLAINTEXT to
the broker). In order: the stack comes up with the migration before the services and every health
check healthy; the README's request goes end to end through the containers, with an attachment
kept in the S3 stand-in; Prometheus scrapes every container, has the alert rules and runs every
query of the Grafana board; a killed container restarts and nothing sent meanwhile is lost;
`down` and `up` keep the data; everything is torn down, volumes included."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from deploy.tests.containers import daemon_answers, docker, health, inspect, logs, signing_ca
from deploy.tests.test_image import README_REQUEST, register_the_subsidiary
from tests.support import PDF_BYTES, eventually

ROOT = Path(__file__).resolve().parents[2]
FILES = ["-f", "docker-compose.yml", "-f", "docker-compose.standins.yml"]
STANDINS = ["kafka", "minio", "postgres", "prometheus"]
ONE_SHOT = ["kafka-init", "migrate"]
XIAOER = ["intake", "intake-worker", "router", "router-worker", "notifier", "notifier-worker", "web"]
STARTED = [*STANDINS, *ONE_SHOT, *XIAOER]  # all but grafana: no Debian package, nothing to pull
PORTS = {
    **{"postgres": 15432, "kafka": 19092, "s3": 19000, "prometheus": 19090},
    **{"intake": 18000, "router": 18001, "notifier": 18002, "web": 18003},
    **{"intake-worker": 19464, "router-worker": 19465, "notifier-worker": 19466},
}
INTAKE, NOTIFIER, PROMETHEUS = (f"http://127.0.0.1:{PORTS[s]}" for s in ("intake", "notifier", "prometheus"))
MEASURED: dict[str, float] = {}


class Stack:
    def __init__(self) -> None:
        self.project = f"xiaoer-compose-test-{uuid.uuid4().hex[:6]}"
        self.files = FILES
        password = lambda: secrets.token_hex(16)  # noqa: E731 - letters and digits, as deploy/kafka wants
        self.env = {
            **os.environ,
            # Docker's vfs storage copies a whole image per container: removing one can outlast
            # Compose's default 60 s wait for the daemon.
            "COMPOSE_HTTP_TIMEOUT": "600",
            "XIAOER_JWT_SECRET": secrets.token_urlsafe(48),
            **{name: password() for name in ("POSTGRES_PASSWORD", "MINIO_PASSWORD", "GRAFANA_PASSWORD")},
            **{f"KAFKA_{s}_PASSWORD": password() for s in ("INTAKE", "ROUTER", "NOTIFIER", "OPS")},
        }

    def merge(self, into: Path) -> None:
        """Both files as one, without the base file's published ports: Docker refuses them on the
        host network, and Compose v1 merges `ports` lists, so the override cannot drop them."""
        merged = yaml.safe_load(self._run(FILES, "config"))
        for service in merged["services"].values():
            service.pop("ports", None)
        into.write_text(yaml.safe_dump(merged, allow_unicode=True))
        into.chmod(0o600)  # the merged file holds the generated passwords
        self.files = ["-f", str(into), "--project-directory", str(ROOT)]

    def compose(self, *args: str, timeout: float = 600) -> str:
        return self._run(self.files, *args, timeout=timeout)

    def _run(self, files: list[str], *args: str, timeout: float = 600) -> str:
        command = ["docker-compose", "-p", self.project, *files, *args]
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).split()
        assert len(ids) == 1, f"{service}: {ids}"
        return ids[0]

    def up(self) -> float:
        """`up -d` of every service but grafana; seconds until each long-running one is healthy.
        The 300 s for the health checks count from when `up -d` returns: on Docker's vfs storage
        creating the containers alone can take minutes (a copy of the image for each)."""
        started = time.monotonic()
        self.compose("up", "-d", "--no-build", *STARTED, timeout=1800)
        created = time.monotonic()
        waiting = [self.container(s) for s in [*STANDINS, *XIAOER]]
        states: dict[str, str] = {}
        while time.monotonic() - created < 300:
            states = {service: health(c) for service, c in zip([*STANDINS, *XIAOER], waiting, strict=True)}
            if all(state == "healthy" for state in states.values()):
                return time.monotonic() - started
            time.sleep(1)
        for service, state in states.items():
            if state != "healthy":
                print(service, state, logs(self.container(service)))
        raise AssertionError(f"not healthy within 300 s: {states}")

    def token(self, *args: str) -> str:
        return docker("exec", self.container("intake"), "xiaoer", "token", *args).stdout.strip()


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    daemon_answers()
    taken = [f"{name}:{port}" for name, port in PORTS.items() if not _free(port)]
    assert not taken, f"the stand-in stack's ports are taken on this machine: {taken}"
    built = time.monotonic()
    running = Stack()
    ca_dir = tmp_path_factory.mktemp("signing")  # the operator's CA (deploy/signing/README.md)
    running.env["SIGNING_CA_PASSWORD"] = signing_ca(ca_dir)
    running.env["SIGNING_CA_DIR"] = str(ca_dir)
    running.merge(tmp_path_factory.mktemp("compose") / "docker-compose.merged.yml")
    running.compose("build", *STANDINS, timeout=1800)
    MEASURED["stand-in images built (or found cached), s"] = time.monotonic() - built
    try:
        yield running
    finally:
        for service in STARTED:
            for container in running.compose("ps", "-q", service).split():
                if inspect(container)["State"].get("Health", {}).get("Status") == "unhealthy":
                    print(service, logs(container))
        running.compose("down", "--volumes", "--remove-orphans")
        left = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={running.project}").stdout.split()
        volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={running.project}")
        assert not left and not volumes.stdout.split(), "down --volumes leaves nothing behind"
        print("compose-test figures:", {k: round(v, 1) for k, v in MEASURED.items()})


async def submit(client: httpx.AsyncClient, body: dict) -> str:
    created = await client.post("/v1/requests", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def routed(client: httpx.AsyncClient, request_id: str, within: float = 60) -> list[dict]:
    async def eight():
        response = await client.get(f"/v1/requests/{request_id}")
        items = response.json().get("work_items", []) if response.status_code == 200 else []
        return items if len(items) == 8 else None

    return await eventually(eight, timeout=within, interval=0.5)


def enterprise_client(stack: Stack) -> httpx.AsyncClient:
    token = stack.token("--role", "enterprise", "--uscc", "91440112MA59C5XK03", "--name", "张三")
    return httpx.AsyncClient(base_url=INTAKE, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_the_stack_starts_migration_first_and_every_health_check_turns_healthy(stack):
    MEASURED["up to all healthy, s"] = took = stack.up()
    print(f"compose up: every container healthy {took:.0f} s after `up`")
    one_shot = {service: inspect(stack.container(service))["State"] for service in ONE_SHOT}
    assert all(state["Status"] == "exited" and state["ExitCode"] == 0 for state in one_shot.values()), one_shot
    migrated = _instant(one_shot["migrate"]["FinishedAt"])
    for service in XIAOER:
        assert _instant(inspect(stack.container(service))["State"]["StartedAt"]) > migrated, service
    user = inspect(stack.container("router-worker"))["Config"]["User"]
    assert user == "10001:10001"


async def test_the_readme_request_goes_end_to_end_through_the_containers(stack):
    # A new deployment has no department registry: the operator loads one (here the demo's).
    seeded = docker("exec", stack.container("router"), "xiaoer", "seed").stdout
    assert "seeded the demo registry" in seeded, seeded
    await register_the_subsidiary(INTAKE, stack.token("--role", "admin", "--sub", "group-registry-admin"))
    async with enterprise_client(stack) as client:
        upload = await client.post("/v1/attachments", files={"file": ("营业执照.pdf", PDF_BYTES, "application/pdf")})
        assert upload.status_code == 201, upload.text  # kept in the S3 stand-in
        attachment = upload.json()["id"]
        request_id = await submit(client, {**README_REQUEST, "attachments": [attachment]})
        items = await routed(client, request_id)
        assert (await client.get(f"/v1/attachments/{attachment}")).content == PDF_BYTES
    assert {item["status"] for item in items} <= {"dispatched", "credit_report"}, items
    tax = next(item for item in items if item["unit_code"] == "440112.tax")
    assert tax["status"] == "dispatched"
    admin = {"Authorization": f"Bearer {stack.token('--role', 'admin')}"}
    async with httpx.AsyncClient(base_url=NOTIFIER, headers=admin, timeout=10) as notifier:

        async def clocks():
            response = await notifier.get(f"/v1/sla/{tax['id']}")
            return response.json() if response.status_code == 200 else None

        assert (await eventually(clocks, timeout=30, interval=0.5))["acknowledge_due_at"]
    # The notifier's worker counts the unit's items waiting for 签收 (its /metrics, what Prometheus reads).
    async with httpx.AsyncClient(timeout=10) as plain:

        async def waiting_for_signature():
            text = (await plain.get(f"http://127.0.0.1:{PORTS['notifier-worker']}/metrics")).text
            return 'xiaoer_acknowledge_backlog_items{unit="440112.tax"} 1.0' in text

        await eventually(waiting_for_signature, timeout=60, interval=1)
    async with httpx.AsyncClient(timeout=10) as pages:
        assert (await pages.get(f"http://127.0.0.1:{PORTS['web']}/readyz")).status_code == 200
    stack.first_request = request_id


async def test_prometheus_scrapes_every_container_and_runs_the_rules_and_the_board(stack):
    import json

    async with httpx.AsyncClient(base_url=PROMETHEUS, timeout=10) as prometheus:

        async def all_up():
            targets = (await prometheus.get("/api/v1/targets")).json()["data"]["activeTargets"]
            return targets if len(targets) == 7 and all(t["health"] == "up" for t in targets) else None

        targets = await eventually(all_up, timeout=60, interval=1)
        assert {t["labels"]["container"] for t in targets} == {*XIAOER}
        rules = (await prometheus.get("/api/v1/rules")).json()["data"]["groups"]
        alerts = {rule["name"] for group in rules for rule in group["rules"] if rule["type"] == "alerting"}
        assert len(alerts) == 15 and all(rule["health"] == "ok" for g in rules for rule in g["rules"]), rules
        board = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "xiaoer.json").read_text())
        answered = 0
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                result = (await prometheus.get("/api/v1/query", params={"query": target["expr"]})).json()
                assert result["status"] == "success", (panel["title"], result)
                answered += bool(result["data"]["result"])
        MEASURED["board queries with data"] = answered
        print(f"the board's queries: all run; {answered} returned series after a few minutes of one request")


async def test_a_killed_container_restarts_and_nothing_sent_meanwhile_is_lost(stack):
    worker = stack.container("router-worker")
    before = inspect(worker)
    os.kill(before["State"]["Pid"], signal.SIGKILL)  # as the OOM killer would
    async with enterprise_client(stack) as client:
        sent = [await submit(client, README_REQUEST) for _ in range(5)]  # while the router's worker is gone
        killed_at = time.monotonic()
        for request_id in sent:
            items = await routed(client, request_id, within=120)
            assert len({item["id"] for item in items}) == 8
        MEASURED["router-worker killed → 5 requests routed, s"] = time.monotonic() - killed_at
    after = inspect(worker)
    assert after["RestartCount"] == before["RestartCount"] + 1 and after["State"]["Pid"] != before["State"]["Pid"]


async def test_down_and_up_keep_the_data(stack):
    stack.compose("down")  # containers and network go; the volumes stay
    MEASURED["up again to all healthy, s"] = stack.up()
    async with enterprise_client(stack) as client:
        first = await client.get(f"/v1/requests/{stack.first_request}")
        assert first.status_code == 200 and len(first.json()["work_items"]) == 8
        # The stand-in broker started empty: the services made their topics again and route anew.
        again = await submit(client, README_REQUEST)
        assert len(await routed(client, again, within=120)) == 8


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00")
