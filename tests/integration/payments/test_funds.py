"""Confirmation of funds through the gateway: on a payment consent (PISP profile, docs/obie-notes.md section 9 step 3: the customer's
token, the consent Authorised else 400 InvalidConsentStatus) and for a CBPII (docs/obie-notes.md section 2.3: the token's consent must
be the body's ConsentId), both answered from the bank's real available balance and checked against the official
v3.1.11 documents."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from consent.audit import EventType
from consent.models import ConsentEvent
from tests.contract.validate import assert_conforms
from tests.helpers.payments import FUNDS_CONFIRMATIONS
from tests.helpers.payments import amount_body
from tests.helpers.payments import approved_funds_consent
from tests.helpers.payments import approved_payment
from tests.helpers.payments import customer_auth
from tests.helpers.payments import submit
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.payments.test_payment_orders import CURRENT
from tests.integration.payments.test_payment_orders import settings  # noqa: F401  (fixture)


async def funds_check(tpp: Tpp, consent_id: str, token: str) -> Any:
    path = f"{PISP}/domestic-payment-consents/{consent_id}/funds-confirmation"
    response = await tpp.call("GET", path, authorized=False, headers=customer_auth(tpp, token, "GET", path))
    assert_conforms(response)
    return response


async def cbpii_check(tpp: Tpp, token: str, body: dict[str, Any]) -> Any:
    response = await tpp.call("POST", FUNDS_CONFIRMATIONS, body=body, authorized=False,
                              headers=customer_auth(tpp, token, "POST", FUNDS_CONFIRMATIONS))
    assert_conforms(response)
    return response


def cbpii_body(consent_id: str, amount: str, currency: str = "GBP") -> dict[str, Any]:
    return {"Data": {"ConsentId": consent_id, "Reference": "Purchase01",
                     "InstructedAmount": {"Amount": amount, "Currency": currency}}}


@pytest.mark.parametrize(("amount", "available"), [("165.88", True), ("20000.00", False)])
async def test_funds_confirmation_on_a_payment_consent_reads_the_debtor_balance(
    tpp: Tpp, amount: str, available: bool
) -> None:
    approved = await approved_payment(tpp, body=amount_body("domestic-payments", amount), account_id=CURRENT)
    response = await funds_check(tpp, approved.consent_id, approved.access_token)
    assert response.status_code == 200, response.text
    assert response.json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is available


async def test_funds_confirmation_on_a_consumed_consent_is_invalid_consent_status(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    assert (await submit(tpp, approved, key="funds-1")).status_code == 201
    response = await funds_check(tpp, approved.consent_id, approved.access_token)
    assert_ob_error(response, 400, "UK.OBIE.Resource.InvalidConsentStatus")


@pytest.mark.parametrize(("amount", "available"), [("10.00", True), ("99999.00", False)])
async def test_a_cbpii_funds_confirmation_answers_from_the_real_balance_and_is_audited(
    tpp: Tpp, db, amount: str, available: bool  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_funds_consent(tpp, account_id=CURRENT)
    response = await cbpii_check(tpp, approved.access_token, cbpii_body(approved.consent_id, amount))
    assert response.status_code == 201, response.text
    data = response.json()["Data"]
    assert data["FundsAvailable"] is available
    assert data["ConsentId"] == approved.consent_id and data["Reference"] == "Purchase01"
    async with db.session() as session:
        events = (await session.exec(select(ConsentEvent).where(ConsentEvent.consent_id == approved.consent_id))).all()
    assert [e.detail.get("endpoint") for e in events if e.event == EventType.ACCESSED] == ["/funds-confirmations"]


async def test_a_cbpii_consent_id_other_than_the_tokens_is_refused(tpp: Tpp) -> None:
    approved = await approved_funds_consent(tpp)
    other = await approved_funds_consent(tpp)
    response = await cbpii_check(tpp, approved.access_token, cbpii_body(other.consent_id, "1.00"))
    assert_ob_error(response, 400, "UK.OBIE.Resource.ConsentMismatch", "Data.ConsentId")


async def test_a_cbpii_currency_other_than_the_accounts_is_unsupported(tpp: Tpp) -> None:
    approved = await approved_funds_consent(tpp, account_id=CURRENT)
    response = await cbpii_check(tpp, approved.access_token, cbpii_body(approved.consent_id, "1.00", "EUR"))
    assert_ob_error(response, 400, "UK.OBIE.Unsupported.Currency")


async def test_a_cbpii_check_with_a_client_credentials_token_is_401(tpp: Tpp) -> None:
    approved = await approved_funds_consent(tpp)
    response = await tpp.call("POST", FUNDS_CONFIRMATIONS, body=cbpii_body(approved.consent_id, "1.00"),
                              check=False)
    assert response.status_code == 401
    assert response.content == b""


async def test_the_dashboard_lists_every_funds_check_with_the_answer_given(tpp: Tpp, client) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.consent_pages.test_dashboard import sign_in

    approved = await approved_funds_consent(tpp, account_id=CURRENT)
    assert (await cbpii_check(tpp, approved.access_token, cbpii_body(approved.consent_id, "10.00"))).status_code == 201
    no = await cbpii_check(tpp, approved.access_token, cbpii_body(approved.consent_id, "99999999.00"))
    assert no.json()["Data"]["FundsAvailable"] is False
    dashboard = await sign_in(client)
    assert "asked whether GBP 10.00 is available, answered yes" in dashboard.text
    assert "asked whether GBP 99999999.00 is available, answered no" in dashboard.text
    exported = (await client.get("/consents/export")).json()
    [consent] = [c for c in exported["consents"] if c["consent_id"] == approved.consent_id]
    answers = [h["detail"]["answer"] for h in consent["history"] if h["event"] == "accessed"]
    assert [a["funds_available"] for a in answers] == [True, False]
