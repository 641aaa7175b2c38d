"""Prometheus metrics (exposition format 0.0.4, served at ``/metrics``).

What an operator watches (docs/architecture.md section 1, journey 7): requests by route template, method, status and
client; latency histograms per route; enforcement-pipeline rejections by reason; upstream errors and circuit
state; consents by status (a gauge computed at scrape time with one grouped count); consent changes as they
commit (``gateway.observability.consent_changes``).

The metric objects live in one private registry per process, created on first use (no import-time side
effects). Other modules record through the small functions below: ``rejection(reason)``,
``upstream_error(upstream=..., kind=...)``, ``circuit_state(upstream=..., state=...)``,
``consent_change(event=..., actor=...)``. docs/production.md section 5 says what each is watched for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from sqlalchemy import func
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from gateway.store.db import Database

# Text format 0.0.4: what every Prometheus server version scrapes (2.x does not know 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Routes no endpoint matched share one label value: raw paths would let any caller grow the label set.
UNMATCHED_ROUTE = "unmatched"
CIRCUIT_STATES = {"closed": 0, "half-open": 1, "open": 2}
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    rejections: Counter
    upstream_errors: Counter
    circuit: Gauge
    consents: Gauge
    event_deliveries: Counter
    event_latency: Histogram
    events: Gauge
    consent_changes: Counter


@functools.cache
def metrics() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "obgw_http_requests", "HTTP requests served, by route template, method, status and client.",
            ["route", "method", "status", "client_id"], registry=registry,
        ),
        latency=Histogram(
            "obgw_http_request_duration_seconds", "Time from request to the last response byte.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=registry,
        ),
        rejections=Counter(
            "obgw_pipeline_rejections", "Requests the enforcement pipeline refused, by reason.",
            ["reason"], registry=registry,
        ),
        upstream_errors=Counter(
            "obgw_upstream_errors", "Failed calls to an upstream (account backend, bank), by kind.",
            ["upstream", "kind"], registry=registry,
        ),
        circuit=Gauge(
            "obgw_upstream_circuit_state", "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.",
            ["upstream"], registry=registry,
        ),
        consents=Gauge(
            "obgw_consents", "Consents by status, counted at scrape time.", ["status"], registry=registry,
        ),
        # Event notifications (docs/architecture.md section 7).
        event_deliveries=Counter(
            "obgw_event_deliveries", "Event pushes to TPP callbacks, by outcome: delivered, retried, failed.",
            ["outcome"], registry=registry,
        ),
        event_latency=Histogram(
            "obgw_event_delivery_duration_seconds", "Time a TPP callback took to answer a push.",
            buckets=_LATENCY_BUCKETS, registry=registry,
        ),
        events=Gauge(
            "obgw_events", "Events emitted to TPPs, by delivery state, counted at scrape time.", ["state"],
            registry=registry,
        ),
        consent_changes=Counter(
            "obgw_consent_changes", "Consent changes committed by this process, by audit event and actor.",
            ["event", "actor"], registry=registry,
        ),
    )  # fmt: skip


def observe_request(*, route: str, method: str, status: int, client_id: str, seconds: float) -> None:
    m = metrics()
    m.requests.labels(route=route, method=method, status=str(status), client_id=client_id).inc()
    m.latency.labels(route=route, method=method).observe(seconds)


def rejection(reason: str) -> None:
    """The enforcement pipeline refused a request; ``reason`` is a short fixed code (an OBIE error code or
    a step name), never request data."""
    metrics().rejections.labels(reason=reason).inc()


def upstream_error(*, upstream: str, kind: str) -> None:
    """An upstream call failed; ``kind`` is e.g. ``timeout``, ``connect``, ``5xx``, ``circuit-open``."""
    metrics().upstream_errors.labels(upstream=upstream, kind=kind).inc()


def circuit_state(*, upstream: str, state: str) -> None:
    """Publish a circuit breaker's state (``closed``, ``half-open`` or ``open``)."""
    if state not in CIRCUIT_STATES:
        raise ValueError(f"unknown circuit state {state!r}")
    metrics().circuit.labels(upstream=upstream).set(CIRCUIT_STATES[state])


def consent_change(*, event: str, actor: str) -> None:
    """A consent change committed (``event`` an audit event type, ``actor`` tpp, customer or system)."""
    metrics().consent_changes.labels(event=event, actor=actor).inc()


async def count_consents(db: Database) -> dict[str, int]:
    from consent.lifecycle import ConsentStatus
    from consent.models import Consent

    # Every status the consent domain knows, so a status with no consent left reads 0 rather than vanishing.
    counts = {status.value: 0 for status in ConsentStatus}
    async with db.session() as session:
        rows = await session.exec(select(Consent.status, func.count()).group_by(Consent.status))
        for status, count in rows.all():
            counts[str(status)] = int(count)
    return counts


def event_delivery(*, outcome: str, seconds: float | None = None) -> None:
    """One push of an event: ``delivered``, ``retried`` or ``failed``, with the callback's answer time."""
    m = metrics()
    m.event_deliveries.labels(outcome=outcome).inc()
    if seconds is not None:
        m.event_latency.observe(seconds)


async def count_events(db: Database) -> dict[str, int]:
    from consent.notifications import DeliveryState
    from consent.notifications import EventNotification

    counts = {state.value: 0 for state in DeliveryState}
    async with db.session() as session:
        rows = await session.exec(select(EventNotification.state, func.count()).group_by(EventNotification.state))
        for state, count in rows.all():
            counts[str(state)] = int(count)
    return counts


async def render(*, db: Database) -> bytes:
    """The exposition text, with the consent and event gauges refreshed from the database first."""
    m = metrics()
    for status, count in (await count_consents(db)).items():
        m.consents.labels(status=status).set(count)
    for state, count in (await count_events(db)).items():
        m.events.labels(state=state).set(count)
    return generate_latest(m.registry)


async def metrics_endpoint(request: Request) -> Response:
    from gateway.services import services

    body = await render(db=services(request).db)
    return Response(body, media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})
