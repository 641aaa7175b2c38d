"""The rulebook's route flags (policies/routes.yaml ``signed_request``, ``signed_response``) decide message signing on
the payment-order and funds-confirmation endpoints, and its ``lifetimes.idempotency_key`` (policies/fapi.yaml) how
long a key replays.

R/W API "Message Signing" (docs/obie-notes.md section 5): the shipped rulebook marks the payment-order POSTs signed
both ways and every payment-order answer signed. The payment-order API reads those flags, per operation; each test
runs the gateway on a copy of the shipped rulebook with one flag changed and sees the behaviour follow.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from gateway.settings import Settings
from tests.helpers.jws import sign_body
from tests.helpers.payments import FUNDS_CONFIRMATIONS
from tests.helpers.payments import approved_funds_consent
from tests.helpers.payments import approved_payment
from tests.helpers.payments import customer_auth
from tests.helpers.payments import order_body
from tests.helpers.payments import submit
from tests.helpers.rulebook import changed_rulebook
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, live_bank: str, request: pytest.FixtureRequest) -> Settings:  # noqa: F811
    """The shipped rulebook, or (parametrized with ``changed_rulebook`` arguments) a changed copy."""
    changes = getattr(request, "param", None)
    if changes is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank)
    policies = changed_rulebook(tmp_path / "policies", **changes)
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank, policies_dir=policies)


async def test_shipped_rulebook_refuses_an_unsigned_order_and_signs_every_answer(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    refused = await submit(tpp, approved, sign=False, check=False)
    assert refused.status_code == 400, refused.text
    assert refused.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Signature.Missing"
    created = await submit(tpp, approved)
    assert created.status_code == 201, created.text
    assert created.headers.get("x-jws-signature")
    read = await tpp.call("GET", f"{PISP}/domestic-payments/{created.json()['Data']['DomesticPaymentId']}")
    assert read.headers.get("x-jws-signature")


@pytest.mark.parametrize("settings", [{"routes": {"CreateDomesticPayments": {"signed_request": False}}}], indirect=True)
async def test_an_unsigned_order_is_accepted_when_the_route_is_not_signed_request(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved, content=json.dumps(order_body(approved)).encode(), sign=False)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("settings", [{"routes": {"CreateDomesticPayments": {"signed_response": False}}}], indirect=True)
async def test_order_answers_are_unsigned_when_the_route_is_not_signed_response(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved, check=False)
    assert created.status_code == 201, created.text
    assert "x-jws-signature" not in created.headers
    refused = await submit(tpp, approved, key="pay-2", sign=False, check=False)
    assert refused.status_code == 400, refused.text
    assert "x-jws-signature" not in refused.headers
    # The read keeps its own rule.
    read = await tpp.call("GET", f"{PISP}/domestic-payments/{created.json()['Data']['DomesticPaymentId']}")
    assert read.headers.get("x-jws-signature")


@pytest.mark.parametrize(
    "settings", [{"routes": {"GetDomesticPaymentsDomesticPaymentId": {"signed_response": False}}}], indirect=True
)
async def test_a_payment_read_is_unsigned_when_its_route_is_not_signed_response(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved)
    assert created.status_code == 201, created.text
    read = await tpp.call("GET", f"{PISP}/domestic-payments/{created.json()['Data']['DomesticPaymentId']}",
                          check=False)
    assert read.status_code == 200, read.text
    assert "x-jws-signature" not in read.headers


async def test_shipped_rulebook_replays_an_order_key_after_a_second(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    content = json.dumps(order_body(approved)).encode()
    first = await submit(tpp, approved, key="pay-1", content=content)
    assert first.status_code == 201, first.text
    await asyncio.sleep(1.2)
    replay = await submit(tpp, approved, key="pay-1", content=content)
    assert (replay.status_code, replay.json()) == (201, first.json())


@pytest.mark.parametrize("settings", [{"fapi": {"lifetimes.idempotency_key": 1}}], indirect=True)
async def test_an_order_key_replays_only_within_the_rulebooks_window(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    content = json.dumps(order_body(approved)).encode()
    first = await submit(tpp, approved, key="pay-1", content=content)
    assert first.status_code == 201, first.text
    await asyncio.sleep(1.2)
    # No longer a replay: a new order for a consent the first one consumed.
    again = await submit(tpp, approved, key="pay-1", content=content, check=False)
    assert again.status_code == 400, again.text
    assert again.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus"


async def test_shipped_rulebook_requires_a_key_on_payment_orders(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    refused = await submit(tpp, approved, key=None, check=False)
    assert refused.status_code == 400, refused.text
    assert refused.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Header.Missing"


@pytest.mark.parametrize("settings", [{"routes": {"CreateDomesticPayments": {"idempotent": False}}}], indirect=True)
async def test_no_key_is_needed_when_the_order_route_is_not_idempotent(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved, key=None)
    assert created.status_code == 201, created.text
    # Each POST is new: the same body again is an order for a consumed consent, not a replay.
    again = await submit(tpp, approved, key=None, check=False)
    assert again.status_code == 400, again.text
    assert again.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus"


async def _funds_check(tpp: Tpp, *, signed: bool) -> httpx.Response:
    approved = await approved_funds_consent(tpp)
    body = {"Data": {"ConsentId": approved.consent_id, "Reference": "Purchase01",
                     "InstructedAmount": {"Amount": "10.00", "Currency": "GBP"}}}
    content = json.dumps(body).encode()
    headers = customer_auth(tpp, approved.access_token, "POST", FUNDS_CONFIRMATIONS)
    if signed:
        headers["x-jws-signature"] = sign_body(content, key=tpp.fapi.key, issuer=tpp.signer)
    return await tpp.call("POST", FUNDS_CONFIRMATIONS, content=content, headers=headers, authorized=False,
                          check=False)


async def test_shipped_rulebook_neither_requires_nor_gives_a_signature_on_funds_checks(tpp: Tpp) -> None:
    response = await _funds_check(tpp, signed=False)
    assert response.status_code == 201, response.text
    assert "x-jws-signature" not in response.headers


@pytest.mark.parametrize(
    "settings", [{"routes": {"CreateFundsConfirmations": {"signed_request": True, "signed_response": True}}}],
    indirect=True,
)
async def test_funds_checks_are_signed_both_ways_when_the_rulebook_says_so(tpp: Tpp) -> None:
    refused = await _funds_check(tpp, signed=False)
    assert refused.status_code == 400, refused.text
    assert refused.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Signature.Missing"
    assert refused.headers.get("x-jws-signature")
    accepted = await _funds_check(tpp, signed=True)
    assert accepted.status_code == 201, accepted.text
    await tpp.assert_signed(accepted)
