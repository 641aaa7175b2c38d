"""``/metrics`` in the Prometheus text format: after a mixed run (a whole journey and some refusals) the
scrape shows the requests it caused by route template, method and status, the consents by status, and the
counters other modules feed (pipeline rejections, upstream errors, circuit state), and a refusal by a pipeline
step moves the rejection counter under its code while a served call does not."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability import metrics
from tests.scale.journey import CONSENTS
from tests.scale.journey import Journey
from tests.scale.journey import client_credentials
from tests.scale.journey import run_journey

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_scrape_counts_the_requests_of_a_mixed_run(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> None:
    before = await scrape(client)
    journey = await run_journey(client, sandbox, issuer=str(client.base_url).rstrip("/"))
    # Refusals: an unknown token at a resource (RFC 6750 401) and a client assertion for nobody (401).
    unknown = await client.get(f"{CONSENTS}/{journey.consent_id}", headers={"Authorization": "Bearer nope-nope-nope"})
    assert unknown.status_code == 401
    stranger = await client.post("/token", data={"grant_type": "client_credentials", "client_id": "nobody"})
    assert stranger.status_code in (400, 401)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Two successful token requests (client credentials, then the code), one refused.
    assert delta("obgw_http_requests_total", route="/token", method="POST", status="200") == 2
    assert delta("obgw_http_requests_total", route="/token", method="POST", status=str(stranger.status_code)) == 1
    assert delta("obgw_http_requests_total", route="/par", method="POST", status="201") == 1
    assert delta("obgw_http_requests_total", route=CONSENTS, method="POST", status="201") == 1
    # Path parameters are folded into the template: no consent id ever becomes a label value.
    assert delta("obgw_http_requests_total", route=CONSENTS + "/{ConsentId}", method="GET", status="401") == 1
    assert not any(journey.consent_id in dict(labels).get("route", "") for _, labels in after)
    assert delta("obgw_http_request_duration_seconds_count", route="/token", method="POST") == 3
    # The consent gauge is computed at scrape time from the database.
    assert value(after, "obgw_consents", status="Authorised") == 1
    assert value(after, "obgw_consents", status="Revoked") == 0


async def test_requests_are_counted_by_client_id(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> None:
    journey = await run_journey(client, sandbox, issuer=str(client.base_url).rstrip("/"))
    after = await scrape(client)
    assert value(after, "obgw_http_requests_total", route="/token", status="200", client_id=journey.client_id) == 2


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for suffix in ("a", "b", "c"):
        assert (await client.get(f"/no/such/{suffix}")).status_code == 404
    after = await scrape(client)
    assert value(after, "obgw_http_requests_total", route="unmatched", status="404") - value(
        before, "obgw_http_requests_total", route="unmatched", status="404"
    ) == 3
    assert not any("/no/such" in dict(labels).get("route", "") for _, labels in after)


async def test_rejection_upstream_and_circuit_hooks_appear_in_the_scrape(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    metrics.rejection("UK.OBIE.Resource.ConsentMismatch")
    metrics.rejection("UK.OBIE.Resource.ConsentMismatch")
    metrics.upstream_error(upstream="bank", kind="timeout")
    metrics.circuit_state(upstream="bank", state="open")
    after = await scrape(client)
    reason = {"reason": "UK.OBIE.Resource.ConsentMismatch"}
    assert value(after, "obgw_pipeline_rejections_total", **reason) - value(
        before, "obgw_pipeline_rejections_total", **reason
    ) == 2
    assert value(after, "obgw_upstream_errors_total", upstream="bank", kind="timeout") - value(
        before, "obgw_upstream_errors_total", upstream="bank", kind="timeout"
    ) == 1
    assert value(after, "obgw_upstream_circuit_state", upstream="bank") == 2
    metrics.circuit_state(upstream="bank", state="closed")
    assert value(await scrape(client), "obgw_upstream_circuit_state", upstream="bank") == 0


def test_an_unknown_circuit_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown circuit state"):
        metrics.circuit_state(upstream="bank", state="ajar")


async def test_a_resource_call_refused_by_a_pipeline_step_is_counted_under_its_code(client: httpx.AsyncClient) -> None:
    reason = {"reason": "invalid_token"}
    before = await scrape(client)
    refused = await client.get("/open-banking/v3.1/aisp/accounts", headers={"Authorization": "DPoP nope-nope-nope"})
    assert refused.status_code == 401
    after = await scrape(client)
    assert value(after, "obgw_pipeline_rejections_total", **reason) - value(
        before, "obgw_pipeline_rejections_total", **reason
    ) == 1


async def test_a_served_resource_call_is_no_rejection(client: httpx.AsyncClient, journey: Journey) -> None:
    before = await scrape(client)
    path = "/open-banking/v3.1/aisp/accounts"
    proof = journey.fapi.dpop("GET", path, access_token=journey.access_token)
    served = await client.get(path, headers={"Authorization": f"DPoP {journey.access_token}", "DPoP": proof})
    assert served.status_code == 200
    after = await scrape(client)
    assert value(after, "obgw_pipeline_rejections_total") == value(before, "obgw_pipeline_rejections_total")


async def test_a_journey_and_a_revocation_move_the_consent_change_counter(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    before = await scrape(client)
    journey = await run_journey(client, sandbox, issuer=str(client.base_url).rstrip("/"))
    token = await client_credentials(client, journey.fapi)
    deleted = await client.delete(f"{CONSENTS}/{journey.consent_id}", headers={
        "Authorization": f"DPoP {token}", "DPoP": journey.fapi.dpop("DELETE", f"{CONSENTS}/{journey.consent_id}",
                                                                   access_token=token)})
    assert deleted.status_code == 204, deleted.text
    after = await scrape(client)

    def changes(event: str, actor: str) -> float:
        labels = {"event": event, "actor": actor}
        return value(after, "obgw_consent_changes_total", **labels) - value(
            before, "obgw_consent_changes_total", **labels)

    assert changes("created", "tpp") == 1
    assert changes("authorised", "customer") == 1
    assert changes("deleted", "tpp") == 1
    assert value(after, "obgw_consent_changes_total", event="accessed") == 0
