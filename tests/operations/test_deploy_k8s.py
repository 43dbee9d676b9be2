"""deploy/k8s/, checked without a cluster: every container runs the release's image as the
image's unprivileged user with requests and limits and the probes its role needs, the commands
and settings are ones the code has, every Deployment has its budget and its autoscaler, and no
worker is ever scaled past the partitions of a topic it reads (the consumer groups and topics
taken from the services' own code)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from cli.main import parser
from services.intake import main as intake_main
from services.intake.settings import IntakeSettings
from services.notifier import main as notifier_main
from services.notifier.settings import NotifierSettings
from services.router import main as router_main
from services.router.settings import RouterSettings
from services.web.settings import WebSettings
from shared.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
MANIFESTS = {path.name: list(filter(None, yaml.safe_load_all(path.read_text()))) for path in K8S.glob("*.yaml")}
APPLIED = [doc for name in [*KUSTOMIZATION["resources"], "migrate-job.yaml"] for doc in MANIFESTS[name]]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
CONFIG = next(doc for doc in APPLIED if doc["kind"] == "ConfigMap")["data"]
SETTINGS = {
    f"XIAOER_{n.upper()}"
    for c in (IntakeSettings, RouterSettings, NotifierSettings, WebSettings)
    for n in c.model_fields
}
BUILDERS = {"intake": intake_main, "router": router_main, "notifier": notifier_main}


def kind(wanted: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in APPLIED if doc["kind"] == wanted}


DEPLOYMENTS = kind("Deployment")
WORKLOADS = {**DEPLOYMENTS, **kind("Job")}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def role(deployment: dict) -> tuple[str, str]:
    (container,) = pod_spec(deployment)["containers"]
    command, service = container["args"]
    return command, service


def quantity(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(m|Mi|Gi)?", text).groups()
    return float(number) * {None: 1, "m": 0.001, "Mi": 2**20, "Gi": 2**30}[unit]


def test_kustomize_applies_every_manifest_but_those_applied_apart():
    applied_apart = {"kustomization.yaml", "secrets.example.yaml", "migrate-job.yaml", "monitoring.yaml"}
    assert set(KUSTOMIZATION["resources"]) == set(MANIFESTS) - applied_apart
    assert KUSTOMIZATION["images"] == [{"name": "registry.example.gov.cn/xiaoer/xiaoer", "newTag": VERSION}]
    assert {role(d) for d in DEPLOYMENTS.values()} == {("api", s) for s in (*SERVICES, "web")} | {
        ("worker", s) for s in SERVICES
    }


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_container_runs_the_release_unprivileged_with_requests_and_limits(name):
    spec = pod_spec(WORKLOADS[name])
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
    (container,) = spec["containers"]
    assert container["image"] == f"registry.example.gov.cn/xiaoer/xiaoer:{VERSION}"
    assert parser().parse_args(container["args"]), container["args"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"]
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/app/var", "/tmp"} <= mounted, "the writable places of a read-only root"
    resources = container["resources"]
    for resource in ("cpu", "memory"):
        assert quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]), resource
    for variable in [*CONFIG, *(e["name"] for e in container.get("env", []))]:
        assert variable in SETTINGS or not variable.startswith("XIAOER_"), f"{variable} is not a setting"


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_probes_fit_the_role(name):
    command, service = role(DEPLOYMENTS[name])
    (container,) = pod_spec(DEPLOYMENTS[name])["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if command == "api":
        assert ports == {"http": Settings.model_fields[f"{service}_port"].default}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    else:  # ready: database and broker answer; alive: the process serves its metrics
        assert ports == {"metrics": 9464}  # the image's WORKER_METRICS_PORT
        assert container["readinessProbe"]["exec"]["command"] == ["xiaoer-healthcheck"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    annotations = DEPLOYMENTS[name]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(next(iter(ports.values())))


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_deployment_has_its_budget_and_autoscaler_and_every_api_its_service(name):
    deployment = DEPLOYMENTS[name]
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == pods

    def selects(doc) -> bool:
        selector = doc["spec"]["selector"]
        return (selector.get("matchLabels", selector)).items() <= pods.items()

    assert [b["metadata"]["name"] for b in kind("PodDisruptionBudget").values() if selects(b)] == [name]
    command, service = role(deployment)
    if command == "api":
        (svc,) = [s for s in kind("Service").values() if selects(s)]
        assert svc["spec"]["ports"][0]["port"] == Settings.model_fields[f"{service}_port"].default
        (hpa,) = [h for h in kind("HorizontalPodAutoscaler").values() if h["spec"]["scaleTargetRef"]["name"] == name]
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    else:
        (scaled,) = [s for s in kind("ScaledObject").values() if s["spec"]["scaleTargetRef"]["name"] == name]
        assert scaled["spec"]["minReplicaCount"] >= 1, "never 0: the worker runs the outbox relay"


def partitions(topic: str) -> int:
    """The fewest partitions the topic may have: as the services create it, or as ops do."""
    production = yaml.safe_load((ROOT / "deploy" / "kafka" / "topics.yaml").read_text())["topics"]
    created = int(CONFIG["XIAOER_KAFKA_TOPIC_PARTITIONS"])
    return min(created, production.get(topic, {}).get("partitions", created))


@pytest.mark.parametrize("service", SERVICES)
async def test_a_worker_scales_on_its_own_groups_lag_and_never_past_a_topics_partitions(service, tmp_path):
    module = BUILDERS[service]
    settings = module.load_settings(
        _env_file=None, var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:9",
        **{f"{service}_database_url": f"sqlite+aiosqlite:///{tmp_path}/{service}.db"},
    )  # fmt: skip
    runtime = module.build_runtime(settings)
    consumed = {(c.group_id, topic) for c in runtime.consumers for topic in c.topics}
    await runtime.engine.dispose()
    name = f"xiaoer-{service}-worker"
    (scaled,) = [s for s in kind("ScaledObject").values() if s["spec"]["scaleTargetRef"]["name"] == name]
    triggers = [t["metadata"] for t in scaled["spec"]["triggers"]]
    assert {(t["consumerGroup"], t["topic"]) for t in triggers} == consumed, "the groups and topics the code reads"
    assert all(t["allowIdleConsumers"] == "false" for t in triggers)
    most = scaled["spec"]["maxReplicaCount"]
    assert most <= min(partitions(topic) for _, topic in consumed), "a replica past the partitions would idle"
    assert DEPLOYMENTS[name]["spec"]["replicas"] <= most
    auth = kind("TriggerAuthentication")[scaled["spec"]["triggers"][0]["authenticationRef"]["name"]]
    keys = {ref["parameter"]: ref["name"] for ref in auth["spec"]["secretTargetRef"]}
    assert keys["username"] == f"xiaoer-{service}-kafka", "KEDA reads the lag as the service's own Kafka user"


def test_the_pod_monitor_scrapes_every_api_and_worker_port_under_the_jobs_the_alerts_name():
    (monitor,) = MANIFESTS["monitoring.yaml"]
    selector = monitor["spec"]["selector"]
    (components,) = selector["matchExpressions"]
    ports = {endpoint["port"] for endpoint in monitor["spec"]["podMetricsEndpoints"]}
    for deployment in DEPLOYMENTS.values():
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= pods.items()
        assert pods["app.kubernetes.io/component"] in components["values"]
        (container,) = pod_spec(deployment)["containers"]
        assert {p["name"] for p in container["ports"]} <= ports
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert 'up{job=~"xiaoer-.+"}' in alerts
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        (job,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        assert job["replacement"] == "xiaoer-$1" and job["sourceLabels"] == [
            "__meta_kubernetes_pod_label_app_kubernetes_io_component"
        ]
