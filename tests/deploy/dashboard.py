"""What the deploy tests read from deploy/: the dashboard's panel queries and the metric names.

The dashboard and the alert rules may only name metrics that ``listener/metrics.py`` defines
(plus Prometheus's own ``up``): these helpers extract both sides so tests can compare them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from listener.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "listener.json"
RULES = DEPLOY / "prometheus" / "rules" / "listener.rules.yml"
RULES_TEST = DEPLOY / "prometheus" / "rules" / "listener.rules.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"

PROMETHEUS_METRICS = frozenset({"up"})
"""Series Prometheus itself makes, which the dashboard and rules may use."""

TEMPLATE_VARIABLES = frozenset({"account", "hashtag", "__rate_interval", "__range"})
"""The ``$variables`` panel queries may use: the dashboard's own and Grafana's built-ins."""

_METRIC = re.compile(r"\blistener_[a-z0-9_]+\b|\bup(?=\s*\{)")
_VARIABLE = re.compile(r"\$\{?(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    """One target of one dashboard panel."""

    panel: str
    ref_id: str
    expr: str

    @property
    def name(self) -> str:
        """A readable test id."""
        return f"{self.panel} [{self.ref_id}]"

    def render(self, values: Mapping[str, str]) -> str:
        """The expression with Grafana's ``$variables`` replaced by ``values``."""
        return _VARIABLE.sub(lambda m: values[m.group(1)], self.expr)


def load_dashboard() -> dict[str, Any]:
    """The provisioned dashboard."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard: Mapping[str, Any] | None = None) -> list[PanelQuery]:
    """Every panel target's PromQL expression."""
    return [
        PanelQuery(panel["title"], target["refId"], target["expr"])
        for panel in panels(dashboard or load_dashboard())
        for target in panel.get("targets", [])
    ]


def variables(expr: str) -> set[str]:
    """The ``$variables`` an expression uses."""
    return set(_VARIABLE.findall(expr))


def metrics_in(expr: str) -> set[str]:
    """Metric names an expression selects, histogram suffixes folded to the family name."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    names = set(_METRIC.findall(without_strings))
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def defined_metrics() -> set[str]:
    """Every metric name ``listener/metrics.py`` registers (histograms by family name)."""
    registry = CollectorRegistry()
    # ``listener_throttled`` is registered with the governor, its source, once a worker has one.
    Metrics(registry).register_throttled(lambda: ())
    text = generate_latest(registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
