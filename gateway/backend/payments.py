"""The bank's payments API as the gateway calls it (payment orders, their status, funds checks).

Bank contract (``sandbox.payments`` implements it; a real bank's adapter would too), each call carrying the
gateway-signed context ``x-obgw-context`` (``gateway.backend.bank``):

* ``POST /bank/v1/pisp/{collection}`` ``{"ConsentId", "IdempotencyKey", "Initiation"}``, context ``purpose="pis"``,
  ``psu_id``, ``consent_id``, ``account_id`` (the debtor account the customer chose) -> 201 executed now, 200 the
  same payment again (the bank executes at most once per consent), 409 another Initiation for this consent;
* ``GET /bank/v1/pisp/{collection}/{PaymentId}[/payment-details]``, context ``purpose="pis"`` naming the
  payment's consent -> 200 ``{"Data"}`` | 404;
* ``GET /bank/v1/accounts/{AccountId}/funds?amount=&currency=``, context ``purpose`` ``pis`` or ``cbpii`` ->
  ``{"Data": {"FundsAvailable", "FundsAvailableDateTime"}}``; 400 when the currency is not the account's.

Every answer outside the contract is a 502 in OBIE form (R/W API "HTTP Status Codes", ``gateway.backend.upstream``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from typing import Final
from urllib.parse import quote
from urllib.parse import urlencode

from gateway import errors
from gateway.backend.bank import CONTEXT_HEADER
from gateway.backend.bank import BankClient
from gateway.backend.upstream import Upstream
from gateway.backend.upstream import UpstreamResponse
from gateway.backend.upstream import upstream_error
from gateway.errors import INTERACTION_HEADER

BANK_PISP: Final = "/bank/v1/pisp"
EXECUTED: Final = 201
ALREADY_EXECUTED: Final = 200


class BankRefused(Exception):
    """The bank refused a payment order outright (nothing executed); ``status`` is the bank's."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"bank answered {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True, kw_only=True)
class FundsAnswer:
    available: bool
    at: str


def _data(answer: UpstreamResponse) -> dict[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError:
        raise upstream_error(502, "The payment service answered an unexpected document") from None
    data = document.get("Data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise upstream_error(502, "The payment service answered an unexpected document")
    return data


class PaymentsBank:
    def __init__(self, *, upstream: Upstream, bank: BankClient) -> None:
        self._upstream = upstream
        self._bank = bank

    def _headers(self, *, interaction_id: str, **claims: Any) -> dict[str, str]:
        return {
            CONTEXT_HEADER: self._bank.context_token(**claims),
            INTERACTION_HEADER: interaction_id,
            "accept": "application/json",
        }

    async def execute(
        self, *, collection: str, consent_id: str, psu_id: str, account_id: str, idempotency_key: str,
        initiation: dict[str, Any], interaction_id: str,
    ) -> tuple[int, dict[str, Any]]:
        """Execute (or find again) the consent's payment order: (201 or 200, the bank's ``Data``)."""
        headers = self._headers(interaction_id=interaction_id, purpose="pis", psu_id=psu_id,
                                consent_id=consent_id, account_id=account_id)
        headers["content-type"] = "application/json"
        body = json.dumps({"ConsentId": consent_id, "IdempotencyKey": idempotency_key,
                           "Initiation": initiation}).encode()
        answer = await self._upstream.request("POST", f"{BANK_PISP}/{collection}", headers=headers, body=body)
        if answer.status in (EXECUTED, ALREADY_EXECUTED):
            return answer.status, _data(answer)
        raise BankRefused(answer.status, answer.body)

    async def read(
        self, *, collection: str, payment_id: str, consent_id: str, psu_id: str, details: bool, interaction_id: str
    ) -> dict[str, Any] | None:
        """The payment (or its ``payment-details``) as the bank sees it now; None when the bank has no such one."""
        path = f"{BANK_PISP}/{collection}/{quote(payment_id, safe='')}" + ("/payment-details" if details else "")
        answer = await self._upstream.get(
            path, headers=self._headers(interaction_id=interaction_id, purpose="pis", consent_id=consent_id,
                                        psu_id=psu_id))
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise upstream_error(502, "The payment service failed", detail=f"bank answered {answer.status}")
        return _data(answer)

    async def funds(
        self, *, purpose: str, psu_id: str, account_id: str, amount: str, currency: str, interaction_id: str
    ) -> FundsAnswer:
        path = f"/bank/v1/accounts/{quote(account_id, safe='')}/funds?" + urlencode(
            {"amount": amount, "currency": currency})
        answer = await self._upstream.get(
            path, headers=self._headers(interaction_id=interaction_id, purpose=purpose, psu_id=psu_id,
                                        account_id=account_id))
        if answer.status == 400 and b"currency" in answer.body:
            # Confirmation of Funds profile: the currency must be the account's.
            raise errors.ObError(
                "The currency is not the account's", status_code=400,
                errors=[errors.ObErrorItem("UK.OBIE.Unsupported.Currency", "The currency is not the account's",
                                           "Data.InstructedAmount.Currency")],
            )
        if answer.status != 200:
            raise upstream_error(502, "The account service failed", detail=f"bank answered {answer.status}")
        data = _data(answer)
        available, at = data.get("FundsAvailable"), data.get("FundsAvailableDateTime")
        if not isinstance(available, bool) or not isinstance(at, str):
            raise upstream_error(502, "The account service answered an unexpected document")
        return FundsAnswer(available=available, at=at)

    async def close(self) -> None:
        await self._upstream.close()
