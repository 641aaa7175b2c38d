"""The bank-side scenario controls (``sandbox.scenarios``): reject, only with a scenario context, only a payment
(or VRP payment) not yet settling, and the pending debit released; reject-next, a one-shot that creates the next
VRP payment of one consent Rejected (``UK.OBIE.OtherReason``, OBIE VRP API v3.1.11) without moving money."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx

from sandbox.models import LedgerEntry
from sandbox.models import VrpRejectNext
from tests.integration.sandbox.test_payments_ledger import ALICE
from tests.integration.sandbox.test_payments_ledger import balances
from tests.integration.sandbox.test_payments_ledger import context
from tests.integration.sandbox.test_payments_ledger import count
from tests.integration.sandbox.test_payments_ledger import key  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import pay
from tests.integration.sandbox.test_payments_ledger import rules  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import sandbox_app  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import scenario
from tests.integration.sandbox.test_vrp_payments import assert_valid
from tests.integration.sandbox.test_vrp_payments import assert_vrp_data
from tests.integration.sandbox.test_vrp_payments import new_consent as new_vrp_consent
from tests.integration.sandbox.test_vrp_payments import pay as pay_vrp
from tests.integration.sandbox.test_vrp_payments import read as read_vrp


def new_consent() -> str:
    return f"pdc-{uuid.uuid4().hex}"


async def test_reject_makes_a_pending_payment_rejected_and_releases_its_debit(
    sandbox: httpx.AsyncClient, key: dict[str, Any], rules: Any  # noqa: F811
) -> None:
    before = await balances(sandbox, key)
    payment_id = (await pay(sandbox, key, new_consent())).json()["Data"]["DomesticPaymentId"]
    rejected = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["Data"]["Status"] == "Rejected"
    assert "UK.OBIE.Rules.FailsControlParameters" in rejected.text
    assert await balances(sandbox, key) == before


async def test_a_settled_payment_cannot_be_rejected(sandbox: httpx.AsyncClient, key: dict[str, Any],  # noqa: F811
                                                    rules: Any) -> None:  # noqa: F811
    payment_id = (await pay(sandbox, key, new_consent())).json()["Data"]["DomesticPaymentId"]
    assert (await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/settle")).status_code == 200
    refused = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/reject")
    assert refused.status_code == 409
    assert refused.json()["error"] == "payment_not_pending"


async def test_reject_needs_a_scenario_context(sandbox: httpx.AsyncClient, key: dict[str, Any],  # noqa: F811
                                               rules: Any) -> None:  # noqa: F811
    payment_id = (await pay(sandbox, key, new_consent())).json()["Data"]["DomesticPaymentId"]
    refused = await sandbox.post(f"/bank/v1/sandbox/payments/{payment_id}/reject",
                                 headers={"x-obgw-context": context(key, consent_id="pdc-x")})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_context"
    unknown = await scenario(sandbox, key, "/bank/v1/sandbox/payments/dp-nope/reject")
    assert unknown.status_code == 404


# --------------------------------------------------------------------------- VRP payments (sandbox.vrp_ledger)


async def test_reject_makes_a_pending_vrp_payment_rejected_and_releases_its_debit(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: dict[str, Any], rules: Any  # noqa: F811
) -> None:
    before = await balances(sandbox, key)
    consent_id = new_vrp_consent()
    payment_id = (await pay_vrp(sandbox, key, consent_id)).json()["Data"]["DomesticVRPId"]
    rejected = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/reject")
    assert rejected.status_code == 200, rejected.text
    data = rejected.json()["Data"]
    assert_vrp_data(data)
    assert (data["Status"], data["StatusReason"]) == ("Rejected", "UK.OBIE.OtherReason")
    assert "bank's own risk controls" in data["StatusReasonDescription"]
    assert await balances(sandbox, key) == before
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 0
    details = await read_vrp(sandbox, key, consent_id, payment_id, tail="/payment-details")
    assert_valid("OBDomesticVRPDetails", details.json())
    assert details.json()["Data"]["PaymentStatus"][0]["PaymentTransactionId"] == payment_id


async def test_a_settled_vrp_payment_cannot_be_rejected(sandbox: httpx.AsyncClient, key: dict[str, Any],  # noqa: F811
                                                        rules: Any) -> None:  # noqa: F811
    payment_id = (await pay_vrp(sandbox, key, new_vrp_consent())).json()["Data"]["DomesticVRPId"]
    assert (await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/settle")).status_code == 200
    refused = await scenario(sandbox, key, f"/bank/v1/sandbox/payments/{payment_id}/reject")
    assert refused.status_code == 409
    assert refused.json()["error"] == "payment_not_pending"


async def test_settle_of_an_unknown_payment_is_404(sandbox: httpx.AsyncClient, key: dict[str, Any]) -> None:  # noqa: F811
    unknown = await scenario(sandbox, key, "/bank/v1/sandbox/payments/vrp-nope/settle")
    assert unknown.status_code == 404


async def test_reject_next_rejects_only_the_next_vrp_payment_of_that_consent_and_moves_no_money(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: dict[str, Any], rules: Any  # noqa: F811
) -> None:
    before = await balances(sandbox, key)
    consent_id, other_consent = new_vrp_consent(), new_vrp_consent()
    armed = await scenario(sandbox, key, f"/bank/v1/sandbox/consents/{consent_id}/reject-next")
    assert armed.status_code == 200, armed.text
    assert armed.json()["Data"] == {"ConsentId": consent_id, "RejectNext": True}
    # Another consent is untouched.
    assert (await pay_vrp(sandbox, key, other_consent)).json()["Data"]["Status"] == "Pending"
    first = await pay_vrp(sandbox, key, consent_id, idempotency_key="k-1")
    assert first.status_code == 201, first.text
    data = first.json()["Data"]
    assert_vrp_data(data)
    assert (data["Status"], data["StatusReason"]) == ("Rejected", "UK.OBIE.OtherReason")
    assert "bank's own risk controls" in data["StatusReasonDescription"]
    assert (await balances(sandbox, key))["InterimAvailable"] == before["InterimAvailable"] - Decimal("10.00")
    # The replay is the same rejected payment; the next key is decided as usual: the control was used up.
    assert (await pay_vrp(sandbox, key, consent_id, idempotency_key="k-1")).json() == first.json()
    second = await pay_vrp(sandbox, key, consent_id, idempotency_key="k-2")
    assert second.json()["Data"]["Status"] == "Pending"
    assert await count(sandbox_app, LedgerEntry, kind="payment", account_id=ALICE) == 2
    assert await count(sandbox_app, VrpRejectNext) == 0


async def test_reject_next_armed_twice_still_rejects_one_payment(sandbox: httpx.AsyncClient,
                                                                 key: dict[str, Any], rules: Any) -> None:  # noqa: F811
    consent_id = new_vrp_consent()
    for _ in range(2):
        assert (await scenario(sandbox, key, f"/bank/v1/sandbox/consents/{consent_id}/reject-next")).status_code == 200
    statuses = [(await pay_vrp(sandbox, key, consent_id, idempotency_key=f"k-{n}")).json()["Data"]["Status"]
                for n in range(2)]
    assert statuses == ["Rejected", "Pending"]


async def test_reject_next_is_used_by_exactly_one_of_concurrent_payments(sandbox: httpx.AsyncClient,
                                                                         key: dict[str, Any],  # noqa: F811
                                                                         rules: Any) -> None:  # noqa: F811
    consent_id = new_vrp_consent()
    assert (await scenario(sandbox, key, f"/bank/v1/sandbox/consents/{consent_id}/reject-next")).status_code == 200
    answers = await asyncio.gather(*(pay_vrp(sandbox, key, consent_id, idempotency_key=f"k-{n}") for n in range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert sorted(a.json()["Data"]["Status"] for a in answers) == ["Pending"] * 5 + ["Rejected"]


async def test_reject_next_needs_a_scenario_context_and_a_bounded_consent_id(
    sandbox: httpx.AsyncClient, sandbox_app: Any, key: dict[str, Any]  # noqa: F811
) -> None:
    consent_id = new_vrp_consent()
    refused = await sandbox.post(f"/bank/v1/sandbox/consents/{consent_id}/reject-next",
                                 headers={"x-obgw-context": context(key, consent_id=consent_id)})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_context"
    unsigned = await sandbox.post(f"/bank/v1/sandbox/consents/{consent_id}/reject-next")
    assert unsigned.status_code == 401
    too_long = await scenario(sandbox, key, f"/bank/v1/sandbox/consents/{'c' * 129}/reject-next")
    assert too_long.status_code == 400
    assert too_long.json()["field"] == "ConsentId"
    assert await count(sandbox_app, VrpRejectNext) == 0
