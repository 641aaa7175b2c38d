"""The one client for every call the gateway makes to the bank (the sandbox bank, or a real bank's adapter).

Every call goes over one pooled transport (``gateway.backend.upstream``: keep-alive, bounded retries for safe
methods, a circuit breaker, failures as OBIE 502/503/504) and carries ``x-obgw-context``: a short-lived JWT
signed with the gateway's context key (ES256, gateway/security/keys.py), which the bank checks against the
gateway's published JWKS, so the bank answers only the gateway. ``purpose`` says which part of the contract a
call belongs to; the other claims say what the consent allows.

Bank contract (``sandbox`` implements it; the full document is ``openapi/bank-backend.yaml``, docs/architecture.md
section 9, and ``obgw bank check`` tests an adapter against it):

* customer pages: ``POST /bank/v1/psu-authentications`` ``{"username", "password"}`` -> 200 ``{"psu_id",
  "name"}`` | 401 (``purpose="psu-authentication"``); ``GET /bank/v1/customers/{psu_id}/accounts`` -> 200
  ``{"accounts": [{"account_id", "name", "account_type", "currency", "masked_identification"}]}``
  (``purpose="account-directory"``);
* accounts (AIS, ``purpose="ais"``, ``psu_id``, ``consent_id``, ``account_ids``, ``permissions`` and the clamped
  ``transaction_from``/``transaction_to``): the public API's sub-path under ``/bank/v1/aisp``, the public base for
  ``Links`` in ``x-obgw-public-base``; the full Detail view, which ``gateway.pipeline.shaping`` cuts to the consent;
* payments (``purpose="pis"``, ``psu_id``, ``consent_id``, ``account_id`` the debtor account the customer chose):
  ``POST /bank/v1/pisp/{collection}`` ``{"ConsentId", "IdempotencyKey", "Initiation"}`` -> 201 executed now,
  200 the same payment again (the bank executes at most once per consent), 409 another Initiation for this
  consent; ``GET /bank/v1/pisp/{collection}/{PaymentId}[/payment-details]`` -> 200 ``{"Data"}`` | 404;
* variable recurring payments (same context): ``POST /bank/v1/pisp/domestic-vrps`` ``{"ConsentId",
  "IdempotencyKey", "Initiation", "Instruction"}`` -> 201 executed now (``Data`` close to
  ``OBDomesticVRPResponse.Data``: ``DomesticVRPId``, ``Status``, ``DebtorAccount``...; a payment the bank itself
  refuses is 201 with ``Status`` ``Rejected``), 200 the same payment again for the same key (a consent yields many
  payments, each at most once per key), 409 another Instruction under that key; ``GET`` as for the other
  collections, ``payment-details`` in ``OBDomesticVRPDetails`` form;
* funds (``purpose`` ``pis`` or ``cbpii``): ``GET /bank/v1/accounts/{AccountId}/funds?amount=&currency=`` ->
  ``{"Data": {"FundsAvailable", "FundsAvailableDateTime"}}``; 400 when the currency is not the account's;
* sandbox scenarios (``purpose="scenario"``): ``POST`` to the control path the sandbox publishes;
* readiness: ``GET /healthz`` -> 200.

Every answer outside the contract is a 502 in OBIE form (R/W API "HTTP Status Codes").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Final
from urllib.parse import quote
from urllib.parse import urlencode

from consent.bank import AccountSummary
from consent.bank import Psu
from gateway import errors
from gateway.backend.upstream import Transport
from gateway.backend.upstream import UpstreamResponse
from gateway.backend.upstream import upstream_error
from gateway.errors import INTERACTION_HEADER
from gateway.errors import UpstreamError
from gateway.security import jose
from gateway.security.keys import KeyStore

CONTEXT_HEADER: Final = "x-obgw-context"
CONTEXT_AUDIENCE: Final = "obgw-bank"
CONTEXT_LIFETIME: Final = 60  # seconds (openapi/bank-backend.yaml, "The consent context")
PUBLIC_BASE_HEADER: Final = "x-obgw-public-base"
BANK_AIS_BASE: Final = "/bank/v1/aisp"
BANK_PISP: Final = "/bank/v1/pisp"
VRP_COLLECTION: Final = "domestic-vrps"
EXECUTED: Final = 201
ALREADY_EXECUTED: Final = 200
_JSON: Final = "application/json"


class BankUnavailable(RuntimeError):
    """The customer pages could not reach the bank (they show a retry page, not an OBIE error)."""


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


def context_claims(*, issuer: str, **claims: Any) -> dict[str, Any]:
    """The context token's registered claims (fresh ``jti``, ``CONTEXT_LIFETIME``), ``claims`` over them."""
    now = int(time.time())
    body: dict[str, Any] = {"iss": issuer, "aud": CONTEXT_AUDIENCE, "iat": now, "exp": now + CONTEXT_LIFETIME,
                            "jti": jose.new_jti()}
    body.update(claims)
    return body


class Bank:
    def __init__(self, *, transport: Transport, issuer: str, keys: KeyStore) -> None:
        self._transport = transport
        self._issuer = issuer
        self._keys = keys
        # Parsed once (docs/architecture.md section 3, hot-path rule): one context token per bank call.
        self._context_key = jose.signing_key(keys.context_key)

    def context_token(self, **claims: Any) -> str:
        return jose.sign_with(context_claims(issuer=self._issuer, **claims), key=self._context_key)

    def _headers(self, *, interaction_id: str | None = None, **claims: Any) -> dict[str, str]:
        headers = {CONTEXT_HEADER: self.context_token(**claims), "accept": _JSON}
        if interaction_id is not None:
            headers[INTERACTION_HEADER] = interaction_id
        return headers

    # ------------------------------------------------------------------ customer pages

    async def authenticate(self, *, username: str, password: str) -> Psu | None:
        headers = self._headers(purpose="psu-authentication") | {"content-type": _JSON}
        body = json.dumps({"username": username, "password": password}).encode()
        try:
            answer = await self._transport.request("POST", "/bank/v1/psu-authentications", headers=headers, body=body)
        except UpstreamError as exc:
            raise BankUnavailable(exc.message) from exc
        if answer.status in (400, 401, 403, 404):
            return None
        if answer.status != 200:
            raise BankUnavailable(f"bank answered {answer.status}")
        data = json.loads(answer.body)
        return Psu(psu_id=str(data["psu_id"]), name=str(data["name"]))

    async def accounts(self, *, psu_id: str) -> list[AccountSummary]:
        headers = self._headers(purpose="account-directory", psu_id=psu_id)
        try:
            answer = await self._transport.request(
                "GET", f"/bank/v1/customers/{quote(psu_id, safe='')}/accounts", headers=headers)
        except UpstreamError as exc:
            raise BankUnavailable(exc.message) from exc
        if answer.status != 200:
            raise BankUnavailable(f"bank answered {answer.status}")
        return [
            AccountSummary(
                account_id=str(a["account_id"]),
                name=str(a["name"]),
                account_type=str(a["account_type"]),
                currency=str(a["currency"]),
                masked_identification=str(a["masked_identification"]),
            )
            for a in json.loads(answer.body)["accounts"]
        ]

    # ------------------------------------------------------------------ accounts (AIS)

    async def account_resource(
        self, *, sub_path: str, query: list[tuple[str, str]], claims: Mapping[str, object], public_base: str,
        interaction_id: str,
    ) -> UpstreamResponse:
        """The bank's full view of one AIS resource; the caller checks the status and shapes the body."""
        headers = self._headers(interaction_id=interaction_id, **claims)
        headers[PUBLIC_BASE_HEADER] = public_base
        target = BANK_AIS_BASE + sub_path + ("?" + urlencode(query) if query else "")
        return await self._transport.request("GET", target, headers=headers)

    # ------------------------------------------------------------------ payments and funds

    async def execute_payment(
        self, *, collection: str, consent_id: str, psu_id: str, account_id: str, idempotency_key: str,
        initiation: dict[str, Any], interaction_id: str,
    ) -> tuple[int, dict[str, Any]]:
        """Execute (or find again) the consent's payment order: (201 or 200, the bank's ``Data``)."""
        headers = self._headers(interaction_id=interaction_id, purpose="pis", psu_id=psu_id,
                                consent_id=consent_id, account_id=account_id)
        headers["content-type"] = _JSON
        body = json.dumps({"ConsentId": consent_id, "IdempotencyKey": idempotency_key,
                           "Initiation": initiation}).encode()
        answer = await self._transport.request("POST", f"{BANK_PISP}/{collection}", headers=headers, body=body)
        if answer.status in (EXECUTED, ALREADY_EXECUTED):
            return answer.status, _data(answer)
        raise BankRefused(answer.status, answer.body)

    async def execute_vrp(
        self, *, consent_id: str, psu_id: str, account_id: str, idempotency_key: str, initiation: dict[str, Any],
        instruction: dict[str, Any], interaction_id: str,
    ) -> tuple[int, dict[str, Any]]:
        """Execute (or find again) one variable recurring payment under the consent: (201 or 200, ``Data``)."""
        headers = self._headers(interaction_id=interaction_id, purpose="pis", psu_id=psu_id,
                                consent_id=consent_id, account_id=account_id)
        headers["content-type"] = _JSON
        body = json.dumps({"ConsentId": consent_id, "IdempotencyKey": idempotency_key, "Initiation": initiation,
                           "Instruction": instruction}).encode()
        answer = await self._transport.request("POST", f"{BANK_PISP}/{VRP_COLLECTION}", headers=headers, body=body)
        if answer.status in (EXECUTED, ALREADY_EXECUTED):
            return answer.status, _data(answer)
        raise BankRefused(answer.status, answer.body)

    async def read_payment(
        self, *, collection: str, payment_id: str, consent_id: str, psu_id: str, details: bool, interaction_id: str
    ) -> dict[str, Any] | None:
        """The payment (or its ``payment-details``) as the bank sees it now; None when the bank has no such one."""
        path = f"{BANK_PISP}/{collection}/{quote(payment_id, safe='')}" + ("/payment-details" if details else "")
        headers = self._headers(interaction_id=interaction_id, purpose="pis", consent_id=consent_id, psu_id=psu_id)
        answer = await self._transport.request("GET", path, headers=headers)
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
        headers = self._headers(interaction_id=interaction_id, purpose=purpose, psu_id=psu_id, account_id=account_id)
        answer = await self._transport.request("GET", path, headers=headers)
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

    # ------------------------------------------------------------------ sandbox scenarios and readiness

    async def scenario(self, *, path: str) -> UpstreamResponse:
        """Ask the sandbox bank to apply a scenario control (``path`` is the sandbox's control path)."""
        return await self._transport.request("POST", path, headers=self._headers(purpose="scenario"), body=b"")

    async def ready(self) -> None:
        """Raises unless the bank answers its health check with 200."""
        answer = await self._transport.request("GET", "/healthz", headers={"accept": _JSON})
        if answer.status != 200:
            raise RuntimeError(f"status {answer.status}")

    async def close(self) -> None:
        await self._transport.close()
