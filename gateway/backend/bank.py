"""The sandbox bank (or a real bank's adapter) as seen by the gateway's customer pages.

Implements ``consent.bank.PsuAuthenticator`` and ``consent.bank.AccountDirectory`` over HTTP. Every call
carries ``x-obgw-context``: a short-lived JWT signed with the gateway's context key (ES256, gateway/security/keys.py), which the bank checks
against the gateway's published JWKS, so the bank answers only the gateway.

Bank contract (``sandbox`` implements it):
* ``POST /bank/v1/psu-authentications`` ``{"username", "password"}`` -> 200 ``{"psu_id", "name"}`` | 401
* ``GET /bank/v1/customers/{psu_id}/accounts`` -> 200 ``{"accounts": [{"account_id", "name",
  "account_type", "currency", "masked_identification"}]}``
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from consent.bank import AccountSummary
from consent.bank import Psu
from gateway.security import jose
from gateway.security.keys import KeyStore

CONTEXT_HEADER = "x-obgw-context"
CONTEXT_AUDIENCE = "obgw-bank"


class BankUnavailable(RuntimeError):
    pass


class BankClient:
    def __init__(
        self,
        *,
        base_url: str,
        issuer: str,
        keys: KeyStore,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._issuer = issuer
        self._keys = keys
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    def context_token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self._issuer, "aud": CONTEXT_AUDIENCE, "iat": now, "exp": now + 60, "jti": jose.new_jti()}
        body.update(claims)
        return jose.sign(body, key=self._keys.context_key)

    async def authenticate(self, *, username: str, password: str) -> Psu | None:
        try:
            response = await self._http.post(
                "/bank/v1/psu-authentications",
                json={"username": username, "password": password},
                headers={CONTEXT_HEADER: self.context_token(purpose="psu-authentication")},
            )
        except httpx.HTTPError as exc:
            raise BankUnavailable(str(exc)) from exc
        if response.status_code in (400, 401, 403, 404):
            return None
        if response.status_code != 200:
            raise BankUnavailable(f"bank answered {response.status_code}")
        data = response.json()
        return Psu(psu_id=str(data["psu_id"]), name=str(data["name"]))

    async def accounts(self, *, psu_id: str) -> list[AccountSummary]:
        try:
            response = await self._http.get(
                f"/bank/v1/customers/{psu_id}/accounts",
                headers={CONTEXT_HEADER: self.context_token(purpose="account-directory", psu_id=psu_id)},
            )
        except httpx.HTTPError as exc:
            raise BankUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise BankUnavailable(f"bank answered {response.status_code}")
        return [
            AccountSummary(
                account_id=str(a["account_id"]),
                name=str(a["name"]),
                account_type=str(a["account_type"]),
                currency=str(a["currency"]),
                masked_identification=str(a["masked_identification"]),
            )
            for a in response.json()["accounts"]
        ]

    async def close(self) -> None:
        await self._http.aclose()
