"""The bank's VRP payments (OBIE VRP API v3.1.11 ``domestic-vrps``; ``sandbox.vrp_payments``, ``sandbox.vrp_ledger``):
a VRP consent yields many payments, each executed at most once per idempotency key however often and however
concurrently it is asked for; a payment moves money as a domestic payment does and settles on the bank's clock;
the bank's own refusals create it Rejected with an ``OBVRPStatusReasonCode`` and move nothing; every answer's
``Data`` is valid against the vendored VRP document; nothing answers without the gateway's context for the
payment's consent."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import yaml
from openapi_schema_validator import OAS30Validator

from sandbox.models import LedgerEntry
from sandbox.models import VrpPayment
from tests.integration.sandbox._ais_helpers import REPO_ROOT
from tests.integration.sandbox._ais_helpers import ais_context
from tests.integration.sandbox.test_payments_ledger import ALICE
from tests.integration.sandbox.test_payments_ledger import BOB
from tests.integration.sandbox.test_payments_ledger import balances
from tests.integration.sandbox.test_payments_ledger import context
from tests.integration.sandbox.test_payments_ledger import count
from tests.integration.sandbox.test_payments_ledger import entry
from tests.integration.sandbox.test_payments_ledger import key  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import pay as pay_domestic
from tests.integration.sandbox.test_payments_ledger import rules  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import sandbox_app  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import scenario

# ruff: noqa: F811  (pytest fixtures imported by name are parameters of the tests below)

VRPS = "/bank/v1/pisp/domestic-vrps"
VRP_SPEC = REPO_ROOT / "openapi" / "obie" / "vrp" / "v3.1.11" / "vrp-openapi.yaml"
INITIATION: dict[str, Any] = {
    "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                        "Name": "Mrs B Smith savings"},
    "RemittanceInformation": {"Reference": "Sweep to savings"},
}


@cache
def _components() -> dict[str, Any]:
    return yaml.safe_load(VRP_SPEC.read_text())["components"]  # type: ignore[no-any-return]


def assert_valid(schema: str, document: Any) -> None:
    """``document`` is valid against ``#/components/schemas/{schema}`` of the vendored VRP document (formats too)."""
    validator = OAS30Validator({"$ref": f"#/components/schemas/{schema}", "components": _components()},
                               format_checker=OAS30Validator.FORMAT_CHECKER)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert not problems, problems


def assert_vrp_data(data: dict[str, Any]) -> None:
    """The bank's ``Data`` is ``OBDomesticVRPResponse.Data``: framed with the members the gateway adds."""
    assert_valid("OBDomesticVRPResponse", {"Data": data, "Risk": {}, "Links": {"Self": "https://example.test/x"},
                                           "Meta": {}})
    assert set(data) >= {"DomesticVRPId", "ConsentId", "CreationDateTime", "Status", "StatusUpdateDateTime",
                         "Initiation", "Instruction", "DebtorAccount"}


def instruction(amount: str = "10.00", *, number: int = 1, currency: str = "GBP") -> dict[str, Any]:
    return {
        "InstructionIdentification": f"SWEEP-{number}", "EndToEndIdentification": f"E2E-SWEEP-{number}",
        "RemittanceInformation": {"Reference": "Sweep to savings"},
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": copy.deepcopy(INITIATION["CreditorAccount"]),
    }


def new_consent() -> str:
    return f"vrpc-{uuid.uuid4()}"


async def pay(sandbox: httpx.AsyncClient, key: dict[str, Any], consent_id: str, *, idempotency_key: str = "k-1",
              body: dict[str, Any] | None = None, **ctx: Any) -> httpx.Response:
    sent = body or {"ConsentId": consent_id, "IdempotencyKey": idempotency_key, "Initiation": INITIATION,
                    "Instruction": instruction()}
    return await sandbox.post(VRPS, json=sent, headers={"x-obgw-context": context(key, consent_id=consent_id, **ctx)})


async def read(sandbox: httpx.AsyncClient, key: dict[str, Any], consent_id: str, payment_id: str,
               tail: str = "", **ctx: Any) -> httpx.Response:
    return await sandbox.get(f"{VRPS}/{payment_id}{tail}",
                             headers={"x-obgw-context": context(key, consent_id=consent_id, **ctx)})


# --------------------------------------------------------------------------- many payments, each once per key


async def test_a_payment_is_created_201_pending_with_the_response_members_the_bank_knows(
    sandbox: httpx.AsyncClient, key: Any, rules: Any
) -> None:
    consent_id = new_consent()
    created = await pay(sandbox, key, consent_id)
    assert created.status_code == 201, created.text
    data = created.json()["Data"]
    assert_vrp_data(data)
    assert data["DomesticVRPId"].startswith("vrp-")
    assert data["ConsentId"] == consent_id
    assert data["Status"] == "Pending"
    assert data["Initiation"] == INITIATION
    assert data["Instruction"] == instruction()
    assert data["DebtorAccount"] == {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                     "Identification": "40004012345678", "Name": data["DebtorAccount"]["Name"]}
    assert data["DebtorAccount"]["Name"]
    # Two steps of the clock (60 s each in these tests) from creation to settlement.
    created_at = datetime.fromisoformat(data["CreationDateTime"])
    assert datetime.fromisoformat(data["ExpectedExecutionDateTime"]) == created_at
    assert (datetime.fromisoformat(data["ExpectedSettlementDateTime"]) - created_at).total_seconds() == 120
    assert "StatusReason" not in data
    assert created.headers["cache-control"] == "no-store"


async def test_the_same_key_again_answers_200_with_the_same_payment(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                    key: Any, rules: Any) -> None:
    consent_id = new_consent()
    first = await pay(sandbox, key, consent_id)
    assert first.status_code == 201, first.text
    for _ in range(2):
        again = await pay(sandbox, key, consent_id)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert await count(sandbox_app, VrpPayment, consent_id=consent_id) == 1
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1


async def test_the_same_key_with_another_instruction_is_409_and_executes_nothing(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any, rules: Any
) -> None:
    consent_id = new_consent()
    assert (await pay(sandbox, key, consent_id)).status_code == 201
    changed = {"ConsentId": consent_id, "IdempotencyKey": "k-1", "Initiation": INITIATION,
               "Instruction": instruction("11.00")}
    refused = await pay(sandbox, key, consent_id, body=changed)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "payment_conflict"
    assert await count(sandbox_app, VrpPayment, consent_id=consent_id) == 1
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1


async def test_one_consent_yields_many_payments_one_per_key(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any,
                                                            rules: Any) -> None:
    before = await balances(sandbox, key)
    consent_id = new_consent()
    ids = set()
    for number in range(1, 4):
        body = {"ConsentId": consent_id, "IdempotencyKey": f"k-{number}", "Initiation": INITIATION,
                "Instruction": instruction("5.00", number=number)}
        created = await pay(sandbox, key, consent_id, body=body)
        assert created.status_code == 201, created.text
        ids.add(created.json()["Data"]["DomesticVRPId"])
    assert len(ids) == 3
    assert await count(sandbox_app, VrpPayment, consent_id=consent_id) == 3
    after = await balances(sandbox, key)
    assert after["InterimAvailable"] == before["InterimAvailable"] - Decimal("15.00")


async def test_the_same_key_under_another_consent_is_another_payment(sandbox: httpx.AsyncClient, key: Any,
                                                                     rules: Any) -> None:
    first = await pay(sandbox, key, new_consent())
    second = await pay(sandbox, key, new_consent())
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["Data"]["DomesticVRPId"] != second.json()["Data"]["DomesticVRPId"]


async def test_twenty_concurrent_calls_with_one_key_execute_once(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                 key: Any, rules: Any) -> None:
    before = await balances(sandbox, key)
    consent_id = new_consent()
    answers = await asyncio.gather(*(pay(sandbox, key, consent_id) for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [200] * 19 + [201], [a.text for a in answers]
    assert len({a.json()["Data"]["DomesticVRPId"] for a in answers}) == 1
    assert await count(sandbox_app, VrpPayment, consent_id=consent_id) == 1
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 1
    after = await balances(sandbox, key)
    assert after["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")


async def test_concurrent_payments_with_different_keys_all_execute(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                   key: Any, rules: Any) -> None:
    consent_id = new_consent()
    answers = await asyncio.gather(*(pay(sandbox, key, consent_id, idempotency_key=f"k-{n}") for n in range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert await count(sandbox_app, VrpPayment, consent_id=consent_id) == 6
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 6


# --------------------------------------------------------------------------- money and the bank's clock


async def test_settlement_moves_through_the_statuses_and_books_the_debit_the_ais_endpoints_show(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any, rules: Any
) -> None:
    before = await balances(sandbox, key)
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticVRPId"]
    details = (await read(sandbox, key, consent_id, payment_id, tail="/payment-details")).json()["Data"]
    transaction_id = details["PaymentStatus"][0]["PaymentTransactionId"]
    pending = await entry(sandbox_app, transaction_id)
    assert (pending.status, pending.credit_debit, pending.amount) == ("Pending", "Debit", "10.00")
    during = await balances(sandbox, key)
    assert during["InterimBooked"] == before["InterimBooked"]
    assert during["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")

    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 60})
    halfway = await read(sandbox, key, consent_id, payment_id)
    assert halfway.json()["Data"]["Status"] == "AcceptedSettlementInProcess"
    assert_vrp_data(halfway.json()["Data"])
    settled = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/settle")
    assert settled.status_code == 200, settled.text
    assert settled.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    assert_vrp_data(settled.json()["Data"])
    done = (await read(sandbox, key, consent_id, payment_id)).json()["Data"]
    assert done["Status"] == "AcceptedSettlementCompleted"
    assert done["ExpectedSettlementDateTime"] == done["StatusUpdateDateTime"]

    assert (await entry(sandbox_app, transaction_id)).status == "Booked"
    after = await balances(sandbox, key)
    assert after["InterimBooked"] == before["InterimBooked"] - Decimal("10.00")
    listed = await sandbox.get(f"/bank/v1/aisp/accounts/{ALICE}/transactions",
                               params={"fromBookingDateTime": datetime.now(UTC).date().isoformat()},
                               headers={"x-obgw-context": ais_context(key)})
    assert listed.status_code == 200, listed.text
    shown = [t for t in listed.json()["Data"]["Transaction"] if t["TransactionId"] == transaction_id]
    assert len(shown) == 1
    assert (shown[0]["Status"], shown[0]["CreditDebitIndicator"]) == ("Booked", "Debit")
    assert shown[0]["Amount"] == {"Amount": "10.00", "Currency": "GBP"}


async def test_the_payments_clock_settles_a_payment_in_two_steps(sandbox: httpx.AsyncClient, key: Any,
                                                                 rules: Any) -> None:
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticVRPId"]
    await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 30})
    assert (await read(sandbox, key, consent_id, payment_id)).json()["Data"]["Status"] == "Pending"
    moved = await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 90})
    assert moved.json()["Data"]["Steps"] == 2
    assert (await read(sandbox, key, consent_id, payment_id)).json()["Data"]["Status"] == "AcceptedSettlementCompleted"


async def test_payment_details_are_valid_against_ob_domestic_vrp_details_in_every_status(
    sandbox: httpx.AsyncClient, key: Any, rules: Any
) -> None:
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticVRPId"]
    seen = []
    for _ in range(3):
        details = await read(sandbox, key, consent_id, payment_id, tail="/payment-details")
        assert details.status_code == 200, details.text
        assert_valid("OBDomesticVRPDetails", details.json())
        seen.append(details.json()["Data"]["PaymentStatus"][0]["Status"])
        await scenario(sandbox, key, "/bank/v1/sandbox/clock", {"advance_seconds": 60})
    assert seen == ["Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]


# --------------------------------------------------------------------------- the bank's refusals


async def test_insufficient_funds_creates_it_rejected_and_moves_no_money(sandbox: httpx.AsyncClient,
                                                                        sandbox_app: Any, key: Any,
                                                                        rules: Any) -> None:
    rules(max_amount=Decimal("10000000"))
    before = await balances(sandbox, key)
    too_much = str((before["InterimAvailable"] + Decimal("1000.00")).quantize(Decimal("0.01")))
    consent_id = new_consent()
    body = {"ConsentId": consent_id, "IdempotencyKey": "k-1", "Initiation": INITIATION,
            "Instruction": instruction(too_much)}
    created = await pay(sandbox, key, consent_id, body=body)
    assert created.status_code == 201, created.text
    data = created.json()["Data"]
    assert_vrp_data(data)
    assert data["Status"] == "Rejected"
    assert data["StatusReason"] == "UK.OBIE.OtherReason"
    assert "InsufficientFunds" in data["StatusReasonDescription"]
    assert "ExpectedSettlementDateTime" not in data
    details = (await read(sandbox, key, consent_id, data["DomesticVRPId"], tail="/payment-details")).json()
    assert_valid("OBDomesticVRPDetails", details)
    assert details["Data"]["PaymentStatus"][0]["StatusDetail"]["StatusReason"] == "ProprietaryRejection"
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0
    assert await balances(sandbox, key) == before


async def test_an_amount_above_the_banks_per_payment_maximum_is_rejected(sandbox: httpx.AsyncClient,
                                                                         sandbox_app: Any, key: Any,
                                                                         rules: Any) -> None:
    rules(max_amount=Decimal("5.00"))
    data = (await pay(sandbox, key, new_consent())).json()["Data"]
    assert data["Status"] == "Rejected"
    assert data["StatusReason"] == "UK.OBIE.OtherReason"
    assert "per-payment limit" in data["StatusReasonDescription"]
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0


async def test_a_currency_other_than_the_accounts_is_400_and_executes_nothing(sandbox: httpx.AsyncClient,
                                                                              sandbox_app: Any, key: Any,
                                                                              rules: Any) -> None:
    consent_id = new_consent()
    body = {"ConsentId": consent_id, "IdempotencyKey": "k-1", "Initiation": INITIATION,
            "Instruction": instruction(currency="EUR")}
    refused = await pay(sandbox, key, consent_id, body=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == "Instruction.InstructedAmount.Currency"
    assert await count(sandbox_app, VrpPayment) == 0


async def test_an_unreadable_instructed_amount_is_400(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any,
                                                      rules: Any) -> None:
    for amount, field in (("abc", "Amount"), ("-1.00", "Amount"), ("0", "Amount")):
        consent_id = new_consent()
        body = {"ConsentId": consent_id, "IdempotencyKey": "k-1", "Initiation": INITIATION,
                "Instruction": instruction(amount)}
        refused = await pay(sandbox, key, consent_id, body=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] == f"Instruction.InstructedAmount.{field}"
    assert await count(sandbox_app, VrpPayment) == 0


async def test_a_body_without_instruction_or_key_is_400(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                        key: Any) -> None:
    consent_id = new_consent()
    for body, field in (({"ConsentId": consent_id, "IdempotencyKey": "k", "Initiation": INITIATION}, "Instruction"),
                        ({"ConsentId": consent_id, "IdempotencyKey": "k", "Instruction": instruction()},
                         "Initiation"),
                        ({"ConsentId": consent_id, "Initiation": INITIATION, "Instruction": instruction()},
                         "IdempotencyKey")):
        refused = await pay(sandbox, key, consent_id, body=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] == field
    assert await count(sandbox_app, VrpPayment) == 0


# --------------------------------------------------------------------------- who may ask


async def test_no_context_is_401(sandbox: httpx.AsyncClient, sandbox_app: Any) -> None:
    response = await sandbox.post(VRPS, json={"ConsentId": "vrpc-1"})
    assert response.status_code == 401
    assert response.json()["error"] == "context_required"
    assert await count(sandbox_app, VrpPayment) == 0


async def test_a_context_for_another_purpose_is_401(sandbox: httpx.AsyncClient, sandbox_app: Any, key: Any) -> None:
    response = await pay(sandbox, key, new_consent(), purpose="cbpii")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"
    assert await count(sandbox_app, VrpPayment) == 0


async def test_a_body_for_another_consent_than_the_context_is_403(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                                  key: Any) -> None:
    body = {"ConsentId": "vrpc-other", "IdempotencyKey": "k", "Initiation": INITIATION,
            "Instruction": instruction()}
    response = await pay(sandbox, key, new_consent(), body=body)
    assert response.status_code == 403
    assert await count(sandbox_app, VrpPayment) == 0


async def test_paying_from_someone_elses_account_is_403(sandbox: httpx.AsyncClient, sandbox_app: Any,
                                                        key: Any) -> None:
    response = await pay(sandbox, key, new_consent(), account=BOB)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert await count(sandbox_app, VrpPayment) == 0


async def test_a_payment_is_not_visible_under_another_consent_or_purpose(sandbox: httpx.AsyncClient, key: Any,
                                                                         rules: Any) -> None:
    consent_id = new_consent()
    payment_id = (await pay(sandbox, key, consent_id)).json()["Data"]["DomesticVRPId"]
    for tail in ("", "/payment-details"):
        elsewhere = await read(sandbox, key, new_consent(), payment_id, tail=tail)
        assert elsewhere.status_code == 404
        assert elsewhere.json()["error"] == "not_found"
        wrong_purpose = await read(sandbox, key, consent_id, payment_id, tail=tail, purpose="ais")
        assert wrong_purpose.status_code == 401
    assert (await read(sandbox, key, consent_id, "vrp-unknown")).status_code == 404


async def test_a_domestic_payment_id_is_not_a_vrp(sandbox: httpx.AsyncClient, key: Any, rules: Any) -> None:
    consent_id = f"pdc-{uuid.uuid4()}"
    payment_id = (await pay_domestic(sandbox, key, consent_id)).json()["Data"]["DomesticPaymentId"]
    assert (await read(sandbox, key, consent_id, payment_id)).status_code == 404
