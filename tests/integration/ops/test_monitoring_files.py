"""The Grafana dashboard (``deploy/grafana/obgw.json``) and the Prometheus alert rules
(``deploy/prometheus/alerts.yaml``) watch metrics the gateway really exposes (docs/production.md section 5).

Every expression is parsed by a PromQL parser; every metric it selects, every label it matches on and every label
it aggregates by must appear in the gateway's own ``/metrics`` after a run that makes each metric move: a whole
journey (requests, latency, consent changes), a refused resource call (a pipeline rejection) and a gateway whose
bank is unreachable (upstream errors, circuit state). The only series not from the gateway is Prometheus's own
``up``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.backend.upstream import Upstream
from gateway.security.keys import KeyStore
from gateway.settings import REPO_ROOT
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.live import free_port
from tests.scale.journey import run_journey

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "obgw.json"
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yaml"
# Made by Prometheus for every scrape target, never exposed by a target.
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
# Grafana's built-in interval variables, replaced by a duration before parsing; any other ``$`` is refused.
GRAFANA_INTERVALS = re.compile(r"\$__(?:rate_interval|interval|range)\b")

Exposed = dict[str, set[str]]  # sample name -> label names seen on it


def dashboard_expressions() -> list[tuple[str, str]]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(f"panel {p['title']!r}", t["expr"]) for p in document["panels"] for t in p["targets"]]


def alert_expressions() -> list[tuple[str, str]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [(f"alert {r['alert']}", r["expr"]) for g in document["groups"] for r in g["rules"]]


def parsed(expr: str) -> Any:
    text = GRAFANA_INTERVALS.sub("5m", expr)
    assert "$" not in text, f"unknown template variable in {expr!r}"
    return promql_parser.parse(text)


def selectors_and_groupings(expr: str) -> tuple[list[tuple[str, set[str]]], list[set[str]]]:
    """The (metric, labels matched) of every selector and the label sets of every ``by``/``on`` grouping."""
    selectors: list[tuple[str, set[str]]] = []
    groupings: list[set[str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr!r}"
            selectors.append((node.name, {m.name for m in node.matchers.matchers}))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            groupings.append(set(node.modifier.labels))

    promql_parser.walk(parsed(expr), visit)
    return selectors, groupings


async def scrape(client: httpx.AsyncClient) -> Exposed:
    response = await client.get("/metrics")
    assert response.status_code == 200
    exposed: Exposed = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


@pytest.fixture
async def exposed(client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings,
                  gateway_keys: KeyStore) -> AsyncIterator[Exposed]:
    journey = await run_journey(client, sandbox, issuer=ISSUER)
    assert journey.consent_id
    refused = await client.get("/open-banking/v3.1/aisp/accounts", headers={"Authorization": "DPoP not-a-token"})
    assert refused.status_code == 401
    unreachable = Upstream(base_url=f"http://127.0.0.1:{free_port()}", retries=0)
    app = create_app(settings, keys=gateway_keys, bank_transport=unreachable, create_schema=True)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as bank_down:
            assert (await bank_down.get("/readyz")).status_code == 503
    yield await scrape(client)


def test_there_is_something_to_check() -> None:
    assert len(dashboard_expressions()) >= 10
    assert len(alert_expressions()) >= 8


@pytest.mark.parametrize("where,expr", dashboard_expressions() + alert_expressions())
def test_every_expression_parses_as_promql(where: str, expr: str) -> None:
    parsed(expr)


async def test_every_expression_selects_metrics_and_labels_the_gateway_exposes(exposed: Exposed) -> None:
    known = {**exposed, **PROMETHEUS_SERIES}
    problems = []
    for where, expr in dashboard_expressions() + alert_expressions():
        selectors, groupings = selectors_and_groupings(expr)
        assert selectors, f"{where} selects no metric"
        for name, labels in selectors:
            if name not in known:
                problems.append(f"{where}: no metric {name}")
            elif labels - known[name] - {"__name__"}:
                problems.append(f"{where}: {name} has no label {sorted(labels - known[name])}")
        available = set().union(*(known.get(name, set()) for name, _ in selectors))
        problems.extend(f"{where}: groups by {sorted(g - available)}, which no selected metric has"
                        for g in groupings if g - available)
    assert problems == []


async def test_the_check_would_catch_a_metric_that_does_not_exist(exposed: Exposed) -> None:
    selectors, _ = selectors_and_groupings('sum(rate(obgw_no_such_thing_total{reason="x"}[5m]))')
    assert [name for name, _ in selectors if name not in exposed] == ["obgw_no_such_thing_total"]


def test_every_panel_reads_the_dashboard_datasource_variable() -> None:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [v["name"] for v in document["templating"]["list"]] == ["datasource"]
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    for p in document["panels"]:
        assert p["datasource"]["uid"] == "${datasource}"
        assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert rule["annotations"]["runbook"].startswith("docs/production.md section "), rule["alert"]
