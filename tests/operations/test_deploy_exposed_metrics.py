"""Every metric the alert rules (deploy/prometheus/alerts.yml) and the Grafana board
(deploy/grafana/dashboards/xiaoer.json) name is one the running services expose on /metrics:
a renamed metric would leave an alert silent or a panel empty without this failing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
ALERTS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
BOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "xiaoer.json").read_text())
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
PROMETHEUS_OWN = {"up"}  # written by Prometheus for each target, not by a service


def named(expr: str) -> set[str]:
    """The metric names in a PromQL expression (ours all start with xiaoer_), label values and
    strings left out."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(re.findall(r"\b(xiaoer_[a-z0-9_]+)\b", without_strings))


def rule_expressions() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for group in ALERTS["groups"] for rule in group["rules"]}


def board_expressions() -> dict[str, str]:
    return {
        f"{panel['title']} [{target['refId']}]": target["expr"]
        for panel in BOARD["panels"]
        for target in panel.get("targets", [])
    }


async def exposed(system) -> set[str]:
    """Every sample name the system's /metrics can carry: a family's own name and, for counters
    and histograms, their series' names, whether or not a sample exists yet."""
    names = set()
    for service in ("intake", "router", "notifier"):
        text = (await system.clients[service].get("/metrics")).text
        for family in text_string_to_metric_families(text):
            names.add(family.name)
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ())}
            names |= {sample.name for sample in family.samples}
    return names


def test_the_helper_finds_every_metric_name_and_no_label_value():
    expr = 'sum by (consumer) (increase(xiaoer_events_consumed_total{outcome="dead_letter", x="xiaoer_fake"}[10m]))'
    assert named(expr) == {"xiaoer_events_consumed_total"}
    assert named("max by (le) (rate(xiaoer_a_bucket[5m])) / xiaoer_b") == {"xiaoer_a_bucket", "xiaoer_b"}


@pytest.mark.parametrize(("source", "expressions"), [("alert", rule_expressions()), ("panel", board_expressions())])
async def test_every_metric_a_rule_or_panel_names_is_exposed(system, source, expressions):
    available = await exposed(system)
    missing = {
        name: [where for where, expr in expressions.items() if name in named(expr)]
        for expr in expressions.values()
        for name in named(expr) - available - PROMETHEUS_OWN
    }
    assert not missing, f"named by {source}s but not exposed: {missing}"
    assert all(named(expr) or "up{" in expr for expr in expressions.values()), "every query names a metric"
