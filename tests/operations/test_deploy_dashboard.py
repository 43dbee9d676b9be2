"""The Grafana board as the compose stack provisions it (deploy/grafana/): every panel queries the
provisioned Prometheus data source, the provisioning points at the files compose mounts, and the
board is Chinese first and in Asia/Shanghai time. That its queries name metrics the services
expose is tests/test_deploy_exposed_metrics.py; that Prometheus runs them, `make compose-test`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
BOARD = json.loads((GRAFANA / "dashboards" / "xiaoer.json").read_text())
CJK = re.compile(r"[\u4e00-\u9fff]")


def queries(board: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel.get("targets", [])]


def test_every_panel_queries_the_provisioned_prometheus():
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose
    graphs = [panel for panel in BOARD["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"] and target["expr"].strip(), panel["title"]
    ids = [panel["id"] for panel in BOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"


def test_the_board_covers_what_the_issue_asks_for():
    """Requests in, items routed, SLA state per region, lag, dead letters, outbox age, latency
    percentiles: each has a query."""
    every = "\n".join(expr for _, expr in queries(BOARD))
    for needed in (
        'route="/v1/requests"',
        'consumer="router.dispatch", outcome="handled"',
        "max by (region) (xiaoer_sla_overdue_items)",
        "xiaoer_consumer_lag",
        'outcome="dead_letter"',
        "xiaoer_outbox_oldest_unsent_seconds",
        "histogram_quantile(0.99, sum by (le, service) (rate(xiaoer_http_request_duration_seconds_bucket",
    ):
        assert needed in every, needed


def test_grafana_loads_the_board_from_where_compose_mounts_it():
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "xiaoer.yml").read_text())["providers"]
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert grafana["depends_on"]["prometheus"] == {"condition": "service_healthy"}


def test_the_board_is_chinese_first_in_shanghai_time():
    assert BOARD["timezone"] == "Asia/Shanghai"
    for panel in BOARD["panels"]:
        title = panel["title"]
        assert CJK.search(title.split(" / ")[0]) and " / " in title, title
