"""The response validation helper: real answers conform, and a one-field change in one of them is named."""

from __future__ import annotations

import httpx
import pytest

from tests.contract.partner import onboard
from tests.contract.validate import SpecMismatch
from tests.contract.validate import assert_conforms
from tests.contract.validate import document_for
from tests.contract.validate import ob_error_problems

AISP = "/open-banking/v3.1/aisp/account-access-consents"


async def test_real_answers_of_every_document_conform(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> None:
    partner = await onboard(client, sandbox)
    assert_conforms(await client.get("/.well-known/openid-configuration"))
    assert_conforms(await client.get("/jwks"))
    assert_conforms(await sandbox.get("/portal/api/psus"))
    body = {"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}}
    created = await client.post(AISP, json=body, headers=await partner.resource_headers("POST", AISP))
    assert created.status_code == 201
    assert_conforms(created)
    refused = await client.post(AISP, json={"Data": {}}, headers=await partner.resource_headers("POST", AISP))
    assert refused.status_code == 400
    assert_conforms(refused)
    assert ob_error_problems(refused.json()) == []


async def test_a_changed_field_is_named(client: httpx.AsyncClient) -> None:
    real = await client.get("/.well-known/openid-configuration")
    broken = httpx.Response(200, json={**real.json(), "issuer": 42}, request=real.request)
    with pytest.raises(SpecMismatch, match="issuer"):
        assert_conforms(broken)


async def test_an_undeclared_status_is_refused(client: httpx.AsyncClient) -> None:
    real = await client.get("/jwks")
    with pytest.raises(SpecMismatch):
        assert_conforms(httpx.Response(418, json={}, request=real.request))


async def test_a_missing_required_header_is_named() -> None:
    # v3.1.11: every OBIE response carries x-fapi-interaction-id.
    request = httpx.Request("POST", "http://127.0.0.1:8000" + AISP, json={})
    response = httpx.Response(400, json={"Code": "400", "Message": "m", "Errors": [
        {"ErrorCode": "UK.OBIE.Field.Missing", "Message": "m"}]},
        headers={"content-type": "application/json; charset=utf-8"}, request=request)
    with pytest.raises(SpecMismatch, match="x-fapi-interaction-id"):
        assert_conforms(response)


async def test_an_error_body_without_errors_is_not_ob_error_response1() -> None:
    assert ob_error_problems({"Code": "400", "Message": "bad"}) == ["[]: 'Errors' is a required property"]


@pytest.mark.parametrize(("path", "document"), [
    ("/open-banking/v3.1/pisp/domestic-payment-consents", "payments"),
    ("/open-banking/v3.1/pisp/domestic-vrp-consents/vrpc-1", "vrp"),
    ("/open-banking/v3.1/cbpii/funds-confirmation-consents", "funds"),
    (AISP, "accounts"), ("/portal/api/psus", "sandbox"), ("/token", "oauth"),
])
async def test_the_document_is_chosen_by_path(path: str, document: str) -> None:
    assert document_for(path) == document
