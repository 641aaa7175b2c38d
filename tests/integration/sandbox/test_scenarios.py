"""The bank-side reject hook (``sandbox.scenarios``): only with a scenario context, only a payment not yet
settling, and the pending debit released."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.integration.sandbox.test_payments_ledger import balances
from tests.integration.sandbox.test_payments_ledger import context
from tests.integration.sandbox.test_payments_ledger import key  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import pay
from tests.integration.sandbox.test_payments_ledger import rules  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import sandbox_app  # noqa: F401  (fixture)
from tests.integration.sandbox.test_payments_ledger import scenario


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
