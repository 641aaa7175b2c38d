"""The production-mode journey end to end (issue "Customer authentication through the bank", docs/bank-sign-in.md
section 1, docs/architecture.md section 10): the customer signs in at the bank's OpenID Connect provider
(node-oidc-provider), approves an account-access consent and a domestic payment consent the TPP created, and the
TPP reads the consented account's balances and makes the payment with the customer's DPoP-bound tokens; the
sandbox bank answers behind the gateway, in process.

R/W API v3.1.11: Account and Transaction "Balances", Payment Initiation "Domestic Payments" (consent, payment
order, status); every answer checked against the OBIE documents (``Tpp.call``), payment answers also for their
``x-jws-signature``.
"""

from __future__ import annotations

from typing import Any

import httpx

from consent.lifecycle import ConsentStatus
from gateway.security import jose
from tests.helpers.bank_idp import ACR_SCA
from tests.helpers.bank_idp import BankIdp
from tests.helpers.jws import signing_key
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import query_of
from tests.helpers.payments import CONSENTS
from tests.helpers.payments import Approved
from tests.helpers.payments import customer_auth
from tests.helpers.payments import submit
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import ALL_SCOPES
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import cc_token
from tests.integration.consent.conftest import payment_body
from tests.integration.oauth.bank_sign_in.conftest import GATEWAY
from tests.integration.oauth.bank_sign_in.conftest import approve_at_bank
from tests.integration.oauth.bank_sign_in.conftest import consent_status
from tests.integration.oauth.bank_sign_in.conftest import psu_id_of
from tests.integration.oauth.bank_sign_in.conftest import push
from tests.integration.sandbox._ais_helpers import ais_context

AIS = "/open-banking/v3.1/aisp"


async def production_tpp(gateway: httpx.AsyncClient, db: Any, obie_specs: Any) -> Tpp:
    # PS256: the key signs the client assertions and the OBIE message signatures.
    fapi = await insert_client(db, scope=ALL_SCOPES, key=signing_key())
    fapi.issuer = GATEWAY
    return Tpp(http=gateway, fapi=fapi, specs=obie_specs, token=await cc_token(gateway, fapi),
               signer=f"software-{fapi.client_id}")


async def customer_token(tpp: Tpp, idp: BankIdp, consent_id: str, *, scope: str) -> dict[str, Any]:
    """PAR naming the consent, the customer signed in at the bank approving it, the code redeemed (DPoP-bound)."""
    request_uri, verifier = await push(tpp.http, tpp.fapi, consent_id, scope=f"openid {scope}")
    tpp.http.cookies.clear()
    async with idp.browser() as at_bank:
        decided = await approve_at_bank(tpp.http, at_bank, idp, tpp.fapi, request_uri, username="alice")
    assert decided.status_code == 303, decided.text
    code = query_of(decided.headers["location"])["code"]
    tokens = await tpp.fapi.token(tpp.http, {"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": tpp.fapi.redirect_uri, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "DPoP"
    return tokens.json()  # type: ignore[no-any-return]


async def test_signed_in_at_the_bank_the_customer_shares_balances_and_makes_a_domestic_payment(  # type: ignore[no-untyped-def]
    gateway, db, idp, obie_specs, sandbox, production_keys
) -> None:
    tpp = await production_tpp(gateway, db, obie_specs)
    alice = psu_id_of("alice")

    # Account access: the TPP's consent, approved by the customer signed in at the bank.
    created = await tpp.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    ais_consent = created.json()["Data"]["ConsentId"]
    ais = await customer_token(tpp, idp, ais_consent, scope="accounts")
    id_token = jose.unverified_claims(ais["id_token"])
    assert id_token["openbanking_intent_id"] == ais_consent and id_token["acr"] == ACR_SCA
    assert await consent_status(db, ais_consent) == (ConsentStatus.AUTHORISED, alice)

    listed = await gateway.get(f"{AIS}/accounts", headers=customer_auth(tpp, ais["access_token"], "GET",
                                                                        f"{AIS}/accounts"))
    assert listed.status_code == 200, listed.text
    (account,) = listed.json()["Data"]["Account"]
    shared = account["AccountId"]
    path = f"{AIS}/accounts/{shared}/balances"
    balances = await gateway.get(path, headers=customer_auth(tpp, ais["access_token"], "GET", path))
    assert balances.status_code == 200, balances.text
    records = balances.json()["Data"]["Balance"]
    assert records and {b["AccountId"] for b in records} == {shared}
    # The figures are the sandbox bank's own for that account of hers (asked directly, as the gateway would).
    direct = await sandbox.get(f"/bank/v1/aisp/accounts/{shared}/balances", headers={
        "x-obgw-context": ais_context(production_keys.context_key, iss=GATEWAY, account_ids=[shared])})
    assert direct.status_code == 200, direct.text

    def figures(found: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((b["Type"], b["CreditDebitIndicator"], b["Amount"]["Amount"]) for b in found)

    assert figures(records) == figures(direct.json()["Data"]["Balance"])

    # A domestic payment: the TPP's consent, approved at the bank, the order made and its status read.
    body = payment_body(CONSENTS["domestic-payments"])
    consent = await tpp.create(CONSENTS["domestic-payments"], body, key="journey-consent")
    assert consent.status_code == 201, consent.text
    payment_consent = consent.json()["Data"]["ConsentId"]
    pis = await customer_token(tpp, idp, payment_consent, scope="payments")
    assert await consent_status(db, payment_consent) == (ConsentStatus.AUTHORISED, alice)
    approved = Approved(consent_id=payment_consent, access_token=pis["access_token"], consent_body=body)
    ordered = await submit(tpp, approved, key="journey-payment")
    assert ordered.status_code == 201, ordered.text
    payment_id = ordered.json()["Data"]["DomesticPaymentId"]
    assert ordered.json()["Data"]["ConsentId"] == payment_consent
    status = await tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}")
    assert status.status_code == 200, status.text
    assert status.json()["Data"]["DomesticPaymentId"] == payment_id
    assert status.json()["Data"]["Status"] in ("Pending", "AcceptedSettlementInProcess",
                                               "AcceptedSettlementCompleted")
    assert await consent_status(db, payment_consent) == (ConsentStatus.CONSUMED, alice)
