"""The bank's payments ledger (docs/obie-notes.md section 9): a consent's payment executes at most once however often and however
concurrently it is asked for; statuses move Pending -> AcceptedSettlementInProcess -> AcceptedSettlementCompleted on
the bank's clock; settlement books a debit the AIS endpoints show; insufficient funds, the amount limit and the
cut-off reject with a reason; funds checks count pending debits; nothing answers without the gateway's context."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import func
from sqlmodel import select

from gateway.security.keys import KeyStore
from sandbox.customers import account_id
from sandbox.customers import customer_id
from sandbox.models import LedgerEntry
from sandbox.models import PaymentOrder
from sandbox.payments import payments_state
from sandbox.payments_ledger import PaymentRules

from ._ais_helpers import ais_context

ALICE = account_id(key="alice-current")
BOB = account_id(key="bob-current")
PIS = "/bank/v1/pisp"


def context(key: dict[str, Any], *, consent_id: str, account: str = ALICE, username: str = "alice",
            **changes: Any) -> str:
    claims: dict[str, Any] = {"purpose": "pis", "consent_id": consent_id, "account_id": account,
                              "account_ids": None, "permissions": None, "psu_id": customer_id(username=username)}
    claims.update(changes)
    return ais_context(key, username=username, **claims)


def initiation(amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "InstructionIdentification": "ACME412", "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                            "Name": "ACME Inc"},
        "RemittanceInformation": {"Reference": "FRESCO-101"},
        **extra,
    }


async def pay(sandbox: httpx.AsyncClient, key: dict[str, Any], consent_id: str, *, body: dict[str, Any] | None = None,
              collection: str = "domestic-payments", **ctx: Any) -> httpx.Response:
    sent = body or {"ConsentId": consent_id, "IdempotencyKey": f"gw-{consent_id}", "Initiation": initiation()}
    return await sandbox.post(f"{PIS}/{collection}", json=sent,
                              headers={"x-obgw-context": context(key, consent_id=consent_id, **ctx)})


async def read(sandbox: httpx.AsyncClient, key: dict[str, Any], consent_id: str, payment_id: str,
               collection: str = "domestic-payments", tail: str = "") -> httpx.Response:
    return await sandbox.get(f"{PIS}/{collection}/{payment_id}{tail}",
                             headers={"x-obgw-context": context(key, consent_id=consent_id)})


async def scenario(sandbox: httpx.AsyncClient, key: dict[str, Any], path: str, body: Any = None) -> httpx.Response:
    token = ais_context(key, purpose="scenario", account_ids=None, permissions=None)
    return await sandbox.post(path, json=body if body is not None else {}, headers={"x-obgw-context": token})


async def balances(sandbox: httpx.AsyncClient, key: dict[str, Any], account: str = ALICE) -> dict[str, Decimal]:
    response = await sandbox.get(f"/bank/v1/aisp/accounts/{account}/balances",
                                 headers={"x-obgw-context": ais_context(key)})
    assert response.status_code == 200, response.text
    out = {}
    for b in response.json()["Data"]["Balance"]:
        sign = 1 if b["CreditDebitIndicator"] == "Credit" else -1
        out[b["Type"]] = sign * Decimal(b["Amount"]["Amount"])
    return out


async def funds(sandbox: httpx.AsyncClient, key: dict[str, Any], amount: str, *, account: str = ALICE,
                purpose: str = "cbpii", **ctx: Any) -> httpx.Response:
    token = context(key, consent_id="fcc-1", account=account, purpose=purpose, **ctx)
    return await sandbox.get(f"/bank/v1/accounts/{account}/funds", params={"amount": amount, "currency": "GBP"},
                             headers={"x-obgw-context": token})


async def count(sandbox_app: Any, table: Any, **where: Any) -> int:
    async with sandbox_app.state.sandbox.db.session() as session:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(getattr(table, name) == value)
        return int((await session.exec(query)).one())


async def entry(sandbox_app: Any, transaction_id: str) -> LedgerEntry:
    async with sandbox_app.state.sandbox.db.session() as session:
        found = await session.get(LedgerEntry, transaction_id)
        assert found is not None
        return found  # type: ignore[no-any-return]


@pytest.fixture
async def sandbox_app(sandbox_settings: Any) -> Any:
    """The sandbox app itself (not the lifespan wrapper), so tests reach its state: payments clock, rules, db."""
    from sandbox.app import create_app

    app = create_app(sandbox_settings, create_schema=True)
    async with LifespanManager(app):
        yield app


@pytest.fixture
def key(gateway_keys: KeyStore) -> dict[str, Any]:
    return gateway_keys.context_key


@pytest.fixture
def rules(sandbox_app: Any) -> Any:
    def set_rules(**changes: Any) -> None:
        payments_state(sandbox_app).rules = PaymentRules(**{"step_seconds": 60, **changes})

    set_rules()
    return set_rules


def new_consent() -> str:
    return f"pdc-{uuid.uuid4()}"


# --------------------------------------------------------------------------- exactly once


async def test_a_payment_executes_once_for_repeated_calls(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any,
                                                          rules: Any) -> None:
    consent_id = new_consent()
    first = await pay(sandbox, key, consent_id)
    assert first.status_code == 201, first.text
    data = first.json()["Data"]
    assert data["Status"] == "Pending"
    assert data["ConsentId"] == consent_id
    assert data["Initiation"] == initiation()
    assert data["Debtor"]["Identification"] == "40004012345678"
    for _ in range(2):
        again = await pay(sandbox, key, consent_id)
        assert again.status_code == 200, again.text
        assert again.json()["Data"]["DomesticPaymentId"] == data["DomesticPaymentId"]
    assert await count(sandbox_app, PaymentOrder, consent_id=consent_id) == 1
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1


async def test_twenty_concurrent_identical_calls_execute_once(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any,
                                                              rules: Any) -> None:
    before = await balances(sandbox, key)
    consent_id = new_consent()
    answers = await asyncio.gather(*(pay(sandbox, key, consent_id) for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [200] * 19 + [201], [a.text for a in answers]
    assert len({a.json()["Data"]["DomesticPaymentId"] for a in answers}) == 1
    assert await count(sandbox_app, PaymentOrder, consent_id=consent_id) == 1
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1
    after = await balances(sandbox, key)
    assert after["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")


async def test_another_initiation_for_an_executed_consent_is_409(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                 key: Any, rules: Any) -> None:
    consent_id = new_consent()
    assert (await pay(sandbox, key, consent_id)).status_code == 201
    changed = {"ConsentId": consent_id, "IdempotencyKey": "other", "Initiation": initiation("99.00")}
    response = await pay(sandbox, key, consent_id, body=changed)
    assert response.status_code == 409
    assert response.json()["error"] == "payment_conflict"
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1


# --------------------------------------------------------------------------- status on the bank's clock


async def test_status_progresses_on_the_bank_clock(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticPaymentId"]
    assert (await read(sandbox, key, consent_id, payment_id)).json()["Data"]["Status"] == "Pending"
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 30})
    assert (await read(sandbox, key, consent_id, payment_id)).json()["Data"]["Status"] == "Pending"
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 30})
    assert (await read(sandbox, key, consent_id, payment_id)).json()["Data"]["Status"] == "AcceptedSettlementInProcess"
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 60})
    done = await read(sandbox, key, consent_id, payment_id)
    assert done.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    details = (await read(sandbox, key, consent_id, payment_id, tail="/payment-details")).json()["Data"]
    assert details["PaymentStatus"][0]["Status"] == "AcceptedSettlementCompleted"


async def test_settlement_books_a_debit_that_the_ais_endpoints_show(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                    key: Any, rules: Any) -> None:
    before = await balances(sandbox, key)
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticPaymentId"]
    details = (await read(sandbox, key, consent_id, payment_id, tail="/payment-details")).json()["Data"]
    transaction_id = details["PaymentStatus"][0]["PaymentTransactionId"]
    pending = await entry(sandbox_app, transaction_id)
    assert (pending.status, pending.credit_debit, pending.amount) == ("Pending", "Debit", "10.00")
    during = await balances(sandbox, key)
    assert during["InterimBooked"] == before["InterimBooked"]
    assert during["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")

    settled = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/settle")
    assert settled.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    booked = await entry(sandbox_app, transaction_id)
    assert booked.status == "Booked"
    after = await balances(sandbox, key)
    assert after["InterimBooked"] == before["InterimBooked"] - Decimal("10.00")
    assert after["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")
    listed = await sandbox.get(f"/bank/v1/aisp/accounts/{ALICE}/transactions",
                               params={"fromBookingDateTime": datetime.now(UTC).date().isoformat()},
                               headers={"x-obgw-context": ais_context(key)})
    assert listed.status_code == 200, listed.text
    shown = [t for t in listed.json()["Data"]["Transaction"] if t["TransactionId"] == transaction_id]
    assert len(shown) == 1
    assert shown[0]["Status"] == "Booked"
    assert shown[0]["CreditDebitIndicator"] == "Debit"
    assert shown[0]["Amount"] == {"Amount": "10.00", "Currency": "GBP"}


# --------------------------------------------------------------------------- rejections


async def test_insufficient_funds_is_rejected_with_a_reason(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any,
                                                            rules: Any) -> None:
    rules(max_amount=Decimal("10000000"))
    before = await balances(sandbox, key)
    too_much = str((before["InterimAvailable"] + Decimal("1000.00")).quantize(Decimal("0.01")))
    consent_id = new_consent()
    body = {"ConsentId": consent_id, "IdempotencyKey": "k", "Initiation": initiation(too_much)}
    response = await pay(sandbox, key, consent_id, body=body)
    assert response.status_code == 201, response.text
    data = response.json()["Data"]
    assert data["Status"] == "Rejected"
    assert "InsufficientFunds" in data["StatusDetail"]["StatusReasonDescription"]
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0
    assert await balances(sandbox, key) == before


async def test_an_amount_above_the_limit_is_rejected_as_failing_control_parameters(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any, rules: Any
) -> None:
    rules(max_amount=Decimal("5.00"))
    consent_id = new_consent()
    data = (await pay(sandbox, key, consent_id)).json()["Data"]
    assert data["Status"] == "Rejected"
    assert data["StatusDetail"]["StatusReasonDescription"].startswith("UK.OBIE.Rules.FailsControlParameters")
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0


async def test_a_payment_after_the_cut_off_is_rejected(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    rules(cut_off=time(0, 0))  # every moment of the day is at or after midnight
    data = (await pay(sandbox, key, new_consent())).json()["Data"]
    assert data["Status"] == "Rejected"
    assert data["StatusDetail"]["StatusReasonDescription"].startswith("UK.OBIE.Rules.AfterCutOffDateTime")


# --------------------------------------------------------------------------- funds confirmation


async def test_funds_check_answers_from_the_available_balance(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    available = (await balances(sandbox, key))["InterimAvailable"]
    yes = await funds(sandbox, key, str(available))
    assert yes.status_code == 200, yes.text
    assert yes.json()["Data"]["FundsAvailable"] is True
    no = await funds(sandbox, key, str(available + Decimal("0.01")))
    assert no.json()["Data"]["FundsAvailable"] is False


async def test_funds_check_counts_pending_debits(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    available = (await balances(sandbox, key))["InterimAvailable"]
    assert (await pay(sandbox, key, new_consent())).status_code == 201
    response = await funds(sandbox, key, str(available))
    assert response.json()["Data"]["FundsAvailable"] is False


async def test_funds_check_of_another_account_than_the_context_names_is_403(sandbox: httpx.AsyncClient,
                                                                            key: Any) -> None:
    token = context(key, consent_id="fcc-1", account=ALICE, purpose="cbpii")
    response = await sandbox.get(f"/bank/v1/accounts/{BOB}/funds", params={"amount": "1.00", "currency": "GBP"},
                                 headers={"x-obgw-context": token})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("amount", ["-1", "abc", "NaN", "0"])
async def test_funds_check_with_a_bad_amount_is_400(sandbox: httpx.AsyncClient, key: Any, amount: str) -> None:
    response = await funds(sandbox, key, amount)
    assert response.status_code == 400
    assert response.json()["field"] == "amount"


# --------------------------------------------------------------------------- scheduled payments, standing orders


async def test_a_scheduled_payment_is_debited_when_its_date_comes(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                  key: Any, rules: Any) -> None:
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()
    consent_id = f"sdpc-{uuid.uuid4()}"
    body = {"ConsentId": consent_id, "IdempotencyKey": "k",
            "Initiation": initiation(RequestedExecutionDateTime=when)}
    created = await pay(sandbox, key, consent_id, body=body, collection="domestic-scheduled-payments")
    assert created.status_code == 201, created.text
    payment_id = created.json()["Data"]["DomesticScheduledPaymentId"]
    assert created.json()["Data"]["Status"] == "InitiationPending"
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 3 * 3600})
    done = await read(sandbox, key, consent_id, payment_id, collection="domestic-scheduled-payments")
    assert done.json()["Data"]["Status"] == "InitiationCompleted"
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE, status="Booked") == 1


async def test_a_standing_order_is_set_up_after_one_step(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    consent_id = f"sdoc-{uuid.uuid4()}"
    order = {"Frequency": "EvryWorkgDay", "Reference": "Pocket money", "FirstPaymentDateTime": "2099-06-06T06:06:06+00:00",
             "FirstPaymentAmount": {"Amount": "6.66", "Currency": "GBP"},
             "CreditorAccount": initiation()["CreditorAccount"]}
    body = {"ConsentId": consent_id, "IdempotencyKey": "k", "Initiation": order}
    created = await pay(sandbox, key, consent_id, body=body, collection="domestic-standing-orders")
    assert created.status_code == 201, created.text
    order_id = created.json()["Data"]["DomesticStandingOrderId"]
    assert created.json()["Data"]["Status"] == "InitiationPending"
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 60})
    done = await read(sandbox, key, consent_id, order_id, collection="domestic-standing-orders")
    assert done.json()["Data"]["Status"] == "InitiationCompleted"


# --------------------------------------------------------------------------- who may ask


async def test_no_context_is_401(sandbox: httpx.AsyncClient, sandbox_app: Any) -> None:
    response = await sandbox.post(f"{PIS}/domestic-payments", json={"ConsentId": "pdc-1"})
    assert response.status_code == 401
    assert response.json()["error"] == "context_required"
    assert await count(sandbox_app, PaymentOrder) == 0


async def test_a_context_for_another_purpose_is_401(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any) -> None:
    response = await pay(sandbox, key, new_consent(), purpose="ais")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"
    assert await count(sandbox_app, PaymentOrder) == 0


async def test_a_context_signed_by_another_key_is_401(sandbox: httpx.AsyncClient, sandbox_app: Any) -> None:
    stranger = KeyStore.generate_in_memory().context_key
    response = await pay(sandbox, stranger, new_consent())
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"
    assert await count(sandbox_app, PaymentOrder) == 0


async def test_a_body_for_another_consent_than_the_context_is_403(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                  key: Any) -> None:
    body = {"ConsentId": "pdc-other", "IdempotencyKey": "k", "Initiation": initiation()}
    response = await pay(sandbox, key, new_consent(), body=body)
    assert response.status_code == 403
    assert await count(sandbox_app, PaymentOrder) == 0


async def test_paying_from_someone_elses_account_is_403(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                        key: Any) -> None:
    response = await pay(sandbox, key, new_consent(), account=BOB)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert await count(sandbox_app, PaymentOrder) == 0


async def test_a_payment_is_not_visible_under_another_consent(sandbox: httpx.AsyncClient, key: Any,
                                                              rules: Any) -> None:
    payment_id = (await pay(sandbox, key, new_consent())).json()["Data"]["DomesticPaymentId"]
    response = await read(sandbox, key, new_consent(), payment_id)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_scenario_hooks_need_a_scenario_context(sandbox: httpx.AsyncClient, key: Any) -> None:
    token = context(key, consent_id="pdc-x")
    response = await sandbox.post("/bank/v1/sandbox/clock", json={"advance_seconds": 10},
                                  headers={"x-obgw-context": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"
