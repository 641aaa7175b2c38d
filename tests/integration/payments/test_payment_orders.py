"""Payment orders through the gateway (R/W API v3.1.11 Payment Initiation, docs/obie-notes.md sections 2.2, 3.2, 5, 6, 9):
the customer's token, the TPP's signature, the consent's Initiation and Risk, exactly once per idempotency key,
status from the bank. The sandbox bank runs on a real loopback port (the gateway's upstream client is aiohttp);
every answer is checked against the official v3.1.11 documents and its ``x-jws-signature`` against ``/jwks``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import col
from sqlmodel import func
from sqlmodel import select

from consent.lifecycle import ConsentStatus
from consent.models import Consent
from gateway.backend.bank import Bank
from gateway.backend.upstream import Upstream
from gateway.settings import Settings
from gateway.store.payment_tables import PaymentOrderRecord
from sandbox.customers import account_id
from sandbox.db import SandboxDatabase
from sandbox.models import PaymentOrder
from tests.contract.validate import assert_conforms
from tests.helpers.jws import IAT
from tests.helpers.jws import ISS
from tests.helpers.jws import TAN
from tests.helpers.jws import detached
from tests.helpers.jws import sign_body
from tests.helpers.jws import tpp_header
from tests.helpers.payments import ID_FIELDS
from tests.helpers.payments import Approved
from tests.helpers.payments import amount_body
from tests.helpers.payments import approved_payment
from tests.helpers.payments import concurrent_retries
from tests.helpers.payments import order_body
from tests.helpers.payments import submit
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.gateway.conftest import make_grant

SAVINGS = account_id(key="alice-savings")
CURRENT = account_id(key="alice-current")


@pytest.fixture
def settings(var_dir, live_bank):  # type: ignore[no-untyped-def]  # noqa: F811
    """The gateway's upstream (payments and AIS) is the sandbox bank on its loopback port; the shipped rulebook."""
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank)


# --------------------------------------------------------------------------- helpers


async def consent_status(db: Any, consent_id: str) -> str:
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        return consent.status


@pytest.fixture
async def bank_db(sandbox_settings, sandbox_app):  # type: ignore[no-untyped-def]
    """A handle on the sandbox bank's own database, to see what it executed."""
    database = SandboxDatabase(sandbox_settings.database_url)
    yield database
    await database.dispose()


async def bank_orders(bank_db: Any, consent_id: str) -> list[PaymentOrder]:
    async with bank_db.session() as session:
        return list((await session.exec(select(PaymentOrder).where(PaymentOrder.consent_id == consent_id))).all())


async def gateway_records(db: Any, client_id: str) -> int:
    async with db.session() as session:
        found = await session.exec(select(func.count()).select_from(PaymentOrderRecord)
                                   .where(col(PaymentOrderRecord.client_id) == client_id))
        return int(found.one())


async def nothing_created(tpp: Tpp, db: Any, bank_db: Any, approved: Approved) -> None:
    assert await consent_status(db, approved.consent_id) == ConsentStatus.AUTHORISED
    assert await bank_orders(bank_db, approved.consent_id) == []
    assert await gateway_records(db, tpp.fapi.client_id) == 0


async def read(tpp: Tpp, path: str) -> httpx.Response:
    response = await tpp.call("GET", path)
    assert_conforms(response)
    return response


async def scenario(keys: Any, sandbox: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    """A sandbox scenario hook, called with the gateway-signed context the bank requires."""
    token = Bank(transport=Upstream(base_url=ISSUER), issuer=ISSUER, keys=keys).context_token(purpose="scenario")
    response = await sandbox.post(path, json=body, headers={"x-obgw-context": token})
    assert response.status_code == 200, response.text


async def balance(gw_client: httpx.AsyncClient, db: Any, account: str) -> Decimal:
    grant = await make_grant(db, permissions=["ReadAccountsDetail", "ReadBalances"], accounts=[account])
    path = f"/open-banking/v3.1/aisp/accounts/{account}/balances"
    response = await gw_client.get(path, headers=grant.headers("GET", path, **{"x-fapi-customer-ip-address": "10.0.0.1"}))
    assert response.status_code == 200, response.text
    amounts = {b["Type"]: Decimal(b["Amount"]["Amount"]) * (1 if b["CreditDebitIndicator"] == "Credit" else -1)
               for b in response.json()["Data"]["Balance"]}
    return amounts.get("InterimAvailable", amounts.get("InterimBooked", Decimal(0)))


# --------------------------------------------------------------------------- the journey


async def test_a_domestic_payment_executes_from_the_chosen_account_consumes_the_consent_and_settles(
    tpp: Tpp, db, client, sandbox, gateway_keys, bank_db  # type: ignore[no-untyped-def]
) -> None:
    before = await balance(client, db, SAVINGS)
    approved = await approved_payment(tpp, account_id=SAVINGS)

    created = await submit(tpp, approved, key="journey-1")
    assert created.status_code == 201, created.text
    assert_conforms(created)
    data = created.json()["Data"]
    payment_id = data["DomesticPaymentId"]
    assert data["ConsentId"] == approved.consent_id
    assert data["Initiation"] == approved.consent_body["Data"]["Initiation"]
    assert data["Status"] == "Pending"
    assert data["Debtor"]["Identification"] == "40004087654321"  # the savings account the customer chose
    assert created.json()["Links"]["Self"] == f"{ISSUER}{PISP}/domestic-payments/{payment_id}"
    # DPC "State Model": Authorised -> Consumed when the payment order is created.
    consent = await tpp.call("GET", f"{PISP}/domestic-payment-consents/{approved.consent_id}")
    assert consent.json()["Data"]["Status"] == "Consumed"

    status = await read(tpp, f"{PISP}/domestic-payments/{payment_id}")
    assert status.json()["Data"]["Status"] == "Pending"
    await scenario(gateway_keys, sandbox, "/bank/v1/sandbox/clock", {"advance_seconds": 60})
    settled = await read(tpp, f"{PISP}/domestic-payments/{payment_id}")
    assert settled.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    details = await read(tpp, f"{PISP}/domestic-payments/{payment_id}/payment-details")
    assert details.json()["Data"]["PaymentStatus"][0]["Status"] == "AcceptedSettlementCompleted"

    assert await balance(client, db, SAVINGS) == before - Decimal("165.88")


@pytest.mark.parametrize(("collection", "status"), [("domestic-scheduled-payments", "InitiationPending"),
                                                    ("domestic-standing-orders", "InitiationPending")])
async def test_scheduled_payments_and_standing_orders_are_created_and_readable(
    tpp: Tpp, db, collection: str, status: str  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_payment(tpp, collection)
    created = await submit(tpp, approved, collection, key=f"{collection}-1")
    assert created.status_code == 201, created.text
    assert_conforms(created)
    payment_id = created.json()["Data"][ID_FIELDS[collection]]
    assert created.json()["Data"]["Status"] == status
    assert await consent_status(db, approved.consent_id) == ConsentStatus.CONSUMED
    again = await read(tpp, f"{PISP}/{collection}/{payment_id}")
    assert again.json()["Data"][ID_FIELDS[collection]] == payment_id
    await read(tpp, f"{PISP}/{collection}/{payment_id}/payment-details")


async def test_insufficient_funds_creates_a_rejected_payment_with_its_reason(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp, body=amount_body("domestic-payments", "20000.00"), account_id=CURRENT)
    created = await submit(tpp, approved, key="poor-1")
    assert created.status_code == 201, created.text
    assert_conforms(created)
    assert created.json()["Data"]["Status"] == "Rejected"
    payment_id = created.json()["Data"]["DomesticPaymentId"]
    details = await read(tpp, f"{PISP}/domestic-payments/{payment_id}/payment-details")
    detail = details.json()["Data"]["PaymentStatus"][0]
    assert detail["Status"] == "Rejected"
    assert "InsufficientFunds" in detail["StatusDetail"]["StatusReasonDescription"]


# --------------------------------------------------------------------------- exactly once


async def test_the_same_key_and_body_answers_the_same_payment_and_executes_once(
    tpp: Tpp, db, bank_db  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_payment(tpp)
    first = await submit(tpp, approved, key="same-1")
    second = await submit(tpp, approved, key="same-1")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert len(await bank_orders(bank_db, approved.consent_id)) == 1


async def test_another_body_under_the_same_key_is_refused_and_changes_nothing(
    tpp: Tpp, db, bank_db  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_payment(tpp)
    first = await submit(tpp, approved, key="same-2")
    other = order_body(approved)
    other["Risk"] = {"PaymentContextCode": "BillPayment"}
    refused = await submit(tpp, approved, key="same-2", body=other)
    assert_ob_error(refused, 400, "UK.OBIE.Header.Invalid", "x-idempotency-key")
    replay = await submit(tpp, approved, key="same-2")
    assert replay.content == first.content
    assert len(await bank_orders(bank_db, approved.consent_id)) == 1


async def test_fifty_concurrent_duplicates_execute_one_payment_with_identical_answers(
    tpp: Tpp, db, bank_db  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_payment(tpp)
    answers = await concurrent_retries(tpp, approved, key="burst-1", count=50)
    orders = await bank_orders(bank_db, approved.consent_id)
    assert len(orders) == 1
    assert answers[0].json()["Data"]["DomesticPaymentId"] == orders[0].payment_id
    assert await gateway_records(db, tpp.fapi.client_id) == 1


async def test_a_consumed_consent_with_a_new_key_is_invalid_consent_status(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    assert (await submit(tpp, approved, key="used-1")).status_code == 201
    again = await submit(tpp, approved, key="used-2")
    assert_ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus")
    assert len(await bank_orders(bank_db, approved.consent_id)) == 1


# --------------------------------------------------------------------------- refusals (nothing created)


async def test_an_initiation_other_than_the_consents_is_consent_mismatch(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    body = order_body(approved)
    body["Data"]["Initiation"]["InstructedAmount"]["Amount"] = "165.89"
    assert_ob_error(await submit(tpp, approved, body=body), 400, "UK.OBIE.Resource.ConsentMismatch",
                    "Data.Initiation")
    await nothing_created(tpp, db, bank_db, approved)


async def test_a_risk_other_than_the_consents_is_consent_mismatch(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    body = order_body(approved)
    body["Risk"]["MerchantCategoryCode"] = "5968"
    assert_ob_error(await submit(tpp, approved, body=body), 400, "UK.OBIE.Resource.ConsentMismatch", "Risk")
    await nothing_created(tpp, db, bank_db, approved)


async def test_a_consent_id_other_than_the_tokens_is_consent_mismatch(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    other = await approved_payment(tpp)
    body = order_body(other)
    assert_ob_error(await submit(tpp, approved, body=body), 400, "UK.OBIE.Resource.ConsentMismatch",
                    "Data.ConsentId")
    await nothing_created(tpp, db, bank_db, approved)
    assert await bank_orders(bank_db, other.consent_id) == []


async def test_the_idempotency_key_is_required_and_at_most_40_characters(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    assert_ob_error(await submit(tpp, approved, key=None), 400, "UK.OBIE.Header.Missing", "x-idempotency-key")
    assert_ob_error(await submit(tpp, approved, key="k" * 41), 400, "UK.OBIE.Header.Invalid", "x-idempotency-key")
    await nothing_created(tpp, db, bank_db, approved)


async def test_a_client_credentials_token_cannot_create_a_payment_order(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_payment(tpp)
    response = await tpp.call("POST", f"{PISP}/domestic-payments", body=order_body(approved),
                              headers={"x-idempotency-key": "cc-1"}, check=False)
    assert response.status_code == 401
    assert response.content == b""
    await nothing_created(tpp, db, bank_db, approved)


def _signatures(tpp: Tpp, content: bytes) -> dict[str, tuple[str | None, str]]:
    kid = tpp.fapi.key["kid"]
    return {
        "missing": (None, "UK.OBIE.Signature.Missing"),
        "malformed": ("not-a-jws", "UK.OBIE.Signature.Malformed"),
        "b64-false": (detached(content, key=tpp.fapi.key, header=tpp_header(
            kid=kid, issuer=tpp.signer, b64=False, crit=[IAT, ISS, TAN, "b64"])), "UK.OBIE.Signature.Malformed"),
        "missing-claim": (sign_body(content, key=tpp.fapi.key, issuer=tpp.signer, tan=None),
                          "UK.OBIE.Signature.MissingClaim"),
        "invalid-claim": (sign_body(content, key=tpp.fapi.key, issuer="someone/else"),
                          "UK.OBIE.Signature.InvalidClaim"),
        "invalid": (sign_body(content + b" ", key=tpp.fapi.key, issuer=tpp.signer), "UK.OBIE.Signature.Invalid"),
    }


@pytest.mark.parametrize("case", ["missing", "malformed", "b64-false", "missing-claim", "invalid-claim", "invalid"])
async def test_a_payment_order_without_a_valid_signature_is_refused_and_creates_nothing(
    tpp: Tpp, db, bank_db, case: str  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_payment(tpp)
    content = json.dumps(order_body(approved)).encode()
    signature, code = _signatures(tpp, content)[case]
    headers = {} if signature is None else {"x-jws-signature": signature}
    response = await submit(tpp, approved, content=content, sign=False, headers=headers)
    assert_ob_error(response, 400, code, "x-jws-signature")
    assert response.headers["x-jws-signature"]  # refusals of a signed endpoint are signed too
    await nothing_created(tpp, db, bank_db, approved)


# --------------------------------------------------------------------------- reading


async def test_an_unknown_payment_id_is_400_not_found(tpp: Tpp) -> None:
    response = await tpp.call("GET", f"{PISP}/domestic-payments/no-such-payment")
    assert_ob_error(response, 400, "UK.OBIE.Resource.NotFound")


async def test_another_clients_payment_is_403(tpp: Tpp, other_tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    payment_id = (await submit(tpp, approved, key="mine-1")).json()["Data"]["DomesticPaymentId"]
    response = await other_tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}")
    assert_ob_error(response, 403, "UK.OBIE.Resource.NotFound")
