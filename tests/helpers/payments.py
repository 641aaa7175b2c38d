"""A PISP/CBPII through the gateway: consent, the customer's approval (sandbox headless route, choosing the
debtor account), the customer's DPoP-bound token, and payment-order calls checked against the OBIE documents."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.consents import intent_claims
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.integration.consent.conftest import CBPII
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import payment_body

CONSENTS = {
    "domestic-payments": f"{PISP}/domestic-payment-consents",
    "domestic-scheduled-payments": f"{PISP}/domestic-scheduled-payment-consents",
    "domestic-standing-orders": f"{PISP}/domestic-standing-order-consents",
}
ID_FIELDS = {
    "domestic-payments": "DomesticPaymentId",
    "domestic-scheduled-payments": "DomesticScheduledPaymentId",
    "domestic-standing-orders": "DomesticStandingOrderId",
}
FUNDS_CONFIRMATIONS = "/open-banking/v3.1/cbpii/funds-confirmations"


@dataclass
class Approved:
    consent_id: str
    access_token: str
    consent_body: dict[str, Any]


def amount_body(collection: str, amount: str) -> dict[str, Any]:
    body = payment_body(CONSENTS[collection])
    initiation = body["Data"]["Initiation"]
    if "InstructedAmount" in initiation:
        initiation["InstructedAmount"]["Amount"] = amount
    else:
        initiation["FirstPaymentAmount"]["Amount"] = amount
    return body


def order_body(approved: Approved) -> dict[str, Any]:
    """The payment order for a consent: its ConsentId, Initiation and Risk exactly (docs/obie-notes.md section 9 step 4)."""
    consent = copy.deepcopy(approved.consent_body)
    return {"Data": {"ConsentId": approved.consent_id, "Initiation": consent["Data"]["Initiation"]},
            "Risk": consent["Risk"]}


async def approve(tpp: Tpp, consent_id: str, *, scope: str, account_id: str | None = None,
                  username: str = PSU_USERNAME, password: str = PSU_PASSWORD) -> str:
    """PAR naming the consent, the customer's headless approval choosing ``account_id``, the code redeemed:
    the customer's access token."""
    verifier, challenge = pkce_pair()
    pushed = await tpp.fapi.push(tpp.http, tpp.fapi.authorization_params(
        challenge=challenge, scope=f"openid {scope}", claims=intent_claims(consent_id)))
    assert pushed.status_code == 201, pushed.text
    form = {"client_id": tpp.fapi.client_id, "request_uri": pushed.json()["request_uri"], "username": username,
            "password": password, "decision": "approve"}
    if account_id is not None:
        form["account_ids"] = account_id
    decided = await tpp.http.post("/sandbox/headless-authorize", data=form)
    assert decided.status_code == 200, decided.text
    code = query_of(decided.json()["redirect_to"])["code"]
    tokens = await tpp.fapi.token(tpp.http, {"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": tpp.fapi.redirect_uri, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


async def approved_payment(tpp: Tpp, collection: str = "domestic-payments", *, body: dict[str, Any] | None = None,
                           account_id: str | None = None, key: str | None = None) -> Approved:
    body = body or payment_body(CONSENTS[collection])
    created = await tpp.create(CONSENTS[collection], body, key=key or f"consent-{id(body)}")
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    token = await approve(tpp, consent_id, scope="payments", account_id=account_id)
    return Approved(consent_id=consent_id, access_token=token, consent_body=body)


async def approved_funds_consent(tpp: Tpp, *, account_id: str | None = None) -> Approved:
    body = {"Data": {"ExpirationDateTime": "2099-05-02T00:00:00+00:00",
                     "DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                       "Identification": "40400422390112", "Name": "Mrs B Smith"}}}
    created = await tpp.create(CBPII, body)
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    token = await approve(tpp, consent_id, scope="fundsconfirmations", account_id=account_id)
    return Approved(consent_id=consent_id, access_token=token, consent_body=body)


def customer_auth(tpp: Tpp, token: str, method: str, path: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": tpp.fapi.dpop(method, path, access_token=token)}


async def submit(tpp: Tpp, approved: Approved, collection: str = "domestic-payments", *, key: str | None = "pay-1",
                 body: dict[str, Any] | None = None, content: bytes | None = None, sign: bool = True,
                 headers: dict[str, str] | None = None, check: bool = True) -> httpx.Response:
    """POST a payment order with the customer's token (signed over the exact bytes unless ``sign=False``)."""
    path = f"{PISP}/{collection}"
    sent = customer_auth(tpp, approved.access_token, "POST", path)
    if key is not None:
        sent["x-idempotency-key"] = key
    sent.update(headers or {})
    content = content if content is not None else json.dumps(body or order_body(approved)).encode()
    return await tpp.call("POST", path, content=content, headers=sent, authorized=False, sign=sign, check=check)


async def concurrent_retries(tpp: Tpp, approved: Approved, *, key: str, count: int) -> list[httpx.Response]:
    """``count`` identical submissions of one payment order under ``key`` at once (a TPP retrying a timeout);
    every one must answer the original 201, byte for byte (R/W API "Idempotency")."""
    content = json.dumps(order_body(approved)).encode()
    answers = await asyncio.gather(*(submit(tpp, approved, key=key, content=content, check=False)
                                     for _ in range(count)))
    assert {a.status_code for a in answers} == {201}, {a.text for a in answers if a.status_code != 201}
    assert len({a.content for a in answers}) == 1
    return list(answers)


async def retry_until_created(send: Callable[[], Awaitable[httpx.Response]], *, what: str) -> httpx.Response:
    """A TPP retrying a payment under its key after a crash, as R/W API "Idempotency" says: until it answers
    201, waiting at least 1 s between tries (a refused connection counts as a try)."""
    deadline = time.monotonic() + 90
    while True:
        try:
            response = await send()
            if response.status_code == 201:
                return response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} never completed"
        await asyncio.sleep(1)
