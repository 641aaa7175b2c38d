"""Customer grants for the contract runs: consents the partner lodges and the test customer approves.

The resource APIs take the customer's token, not the partner's (R/W API v3.1.11 AIS, PIS and CBPII endpoint
tables: "Grant Type: Authorization Code"), so the run first gets the customer's approval the public way:

1. the consent is lodged with a client-credentials token (payment consents signed: R/W API "Message Signing");
2. a pushed authorization request names it (RFC 9126 section 2.1; OBIE ``openbanking_intent_id`` claim);
3. the customer approves through the sandbox's headless route (the same redirect a browser gets);
4. the code is redeemed with PKCE (RFC 7636 section 4.5) for a DPoP-bound access token (RFC 9449 section 5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

from tests.contract.bodies import valid_body
from tests.contract.partner import OnboardingFailed
from tests.contract.partner import Partner
from tests.contract.partner import idempotency_key
from tests.helpers.consents import intent_claims
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of

AISP: Final = "/open-banking/v3.1/aisp"
PISP: Final = "/open-banking/v3.1/pisp"
CBPII: Final = "/open-banking/v3.1/cbpii"

# AISP profile "Detail Permissions": every Detail permission, ReadPAN (unmasked PANs) and every other resource.
DETAIL_PERMISSIONS: Final = (
    "ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail", "ReadDirectDebits", "ReadOffers", "ReadPAN",
    "ReadParty", "ReadPartyPSU", "ReadProducts", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail",
    "ReadStatementsDetail", "ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits",
)

# Payment-order operation -> (consent collection, the consent create operation whose valid body it executes).
PAYMENT_KINDS: Final = {
    "CreateDomesticPayments": ("domestic-payment-consents", "CreateDomesticPaymentConsents"),
    "CreateDomesticScheduledPayments": (
        "domestic-scheduled-payment-consents", "CreateDomesticScheduledPaymentConsents",
    ),
    "CreateDomesticStandingOrders": ("domestic-standing-order-consents", "CreateDomesticStandingOrderConsents"),
}


@dataclass
class Grant:
    """An authorised consent and the customer's DPoP-bound access token for it."""

    consent_id: str
    access_token: str
    consent_body: dict[str, Any]

    def order_body(self) -> dict[str, Any]:
        """The payment order for this consent: its ConsentId, Initiation and Risk unchanged (R/W API PIS
        "Payment Order Consistency": the order must match the consent)."""
        return {
            "Data": {"ConsentId": self.consent_id, "Initiation": self.consent_body["Data"]["Initiation"]},
            "Risk": self.consent_body["Risk"],
        }


@dataclass
class Customer:
    """The grants a run works with, and the resource identifiers the customer's accounts hold."""

    accounts: Grant
    funds: Grant
    payment_funds: Grant  # an authorised, unconsumed domestic-payment consent for its funds check
    vrp: Grant  # an authorised domestic VRP consent: many payments and funds checks
    account_ids: list[str] = field(default_factory=list)
    statements: list[tuple[str, str]] = field(default_factory=list)  # (AccountId, StatementId)


async def lodge(partner: Partner, *, path: str, body: dict[str, Any]) -> str:
    """POST a consent with the partner's client-credentials token; its ConsentId."""
    content = json.dumps(body).encode()
    headers = {**await partner.resource_headers("POST", path), "Content-Type": "application/json",
               "x-idempotency-key": idempotency_key()}
    if path.startswith(PISP):
        headers["x-jws-signature"] = partner.jws_signature(content)
    answer = await partner.gateway.post(path, content=content, headers=headers)
    if answer.status_code != 201:
        raise OnboardingFailed(f"consent at {path}: {answer.status_code}: {answer.text[:500]}")
    return str(answer.json()["Data"]["ConsentId"])


async def approve(partner: Partner, *, consent_id: str, scope: str) -> str:
    """The customer's approval of ``consent_id`` (all offered accounts), redeemed for an access token."""
    verifier, challenge = pkce_pair()
    fapi = partner.fapi
    pushed = await fapi.push(partner.gateway, fapi.authorization_params(
        challenge=challenge, scope=f"openid {scope}", claims=intent_claims(consent_id)))
    if pushed.status_code != 201:
        raise OnboardingFailed(f"PAR for {consent_id}: {pushed.status_code}: {pushed.text[:500]}")
    decided = await partner.gateway.post("/sandbox/headless-authorize", data={
        "client_id": fapi.client_id, "request_uri": pushed.json()["request_uri"], "username": PSU_USERNAME,
        "password": PSU_PASSWORD, "decision": "approve",
    })
    if decided.status_code != 200:
        raise OnboardingFailed(f"approval of {consent_id}: {decided.status_code}: {decided.text[:500]}")
    code = query_of(decided.json()["redirect_to"])["code"]
    tokens = await fapi.token(partner.gateway, {"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    if tokens.status_code != 200:
        raise OnboardingFailed(f"code for {consent_id}: {tokens.status_code}: {tokens.text[:500]}")
    return str(tokens.json()["access_token"])


async def granted(partner: Partner, *, path: str, body: dict[str, Any], scope: str) -> Grant:
    consent_id = await lodge(partner, path=path, body=body)
    return Grant(consent_id=consent_id, access_token=await approve(partner, consent_id=consent_id, scope=scope),
                 consent_body=body)


async def payment_grant(partner: Partner, *, order_operation: str) -> Grant:
    """A fresh authorised payment consent of the kind ``order_operation`` executes (an order consumes it)."""
    collection, create_operation = PAYMENT_KINDS[order_operation]
    body = valid_body(create_operation)
    assert body is not None
    return await granted(partner, path=f"{PISP}/{collection}", body=body, scope="payments")


def customer_headers(partner: Partner, grant: Grant, method: str, path: str) -> dict[str, str]:
    """``Authorization: DPoP`` with the customer's token and a fresh proof for ``method`` ``path``."""
    return {
        "Authorization": f"DPoP {grant.access_token}",
        "DPoP": partner.fapi.dpop(method.upper(), path, access_token=grant.access_token),
    }


async def _ids(partner: Partner, grant: Grant, path: str, collection: str, id_field: str) -> list[str]:
    answer = await partner.gateway.get(path, headers=customer_headers(partner, grant, "GET", path))
    if answer.status_code != 200:
        raise OnboardingFailed(f"GET {path}: {answer.status_code}: {answer.text[:500]}")
    return [str(item[id_field]) for item in answer.json()["Data"].get(collection, [])]


async def authorise_customer(partner: Partner) -> Customer:
    """An account-access consent with every Detail permission, a funds-confirmation consent, a payment consent
    and a VRP consent, each approved by the customer; then the customer's account and statement identifiers."""
    access = valid_body("CreateAccountAccessConsents")
    assert access is not None
    access["Data"]["Permissions"] = list(DETAIL_PERMISSIONS)
    accounts = await granted(partner, path=f"{AISP}/account-access-consents", body=access, scope="accounts")
    funds_body = valid_body("CreateFundsConfirmationConsents")
    assert funds_body is not None
    funds = await granted(partner, path=f"{CBPII}/funds-confirmation-consents", body=funds_body,
                          scope="fundsconfirmations")
    payment_funds = await payment_grant(partner, order_operation="CreateDomesticPayments")
    vrp_body = valid_body("domesticVrpConsentsPost")
    assert vrp_body is not None
    vrp = await granted(partner, path=f"{PISP}/domestic-vrp-consents", body=vrp_body, scope="payments")
    customer = Customer(accounts=accounts, funds=funds, payment_funds=payment_funds, vrp=vrp)
    customer.account_ids = await _ids(partner, accounts, f"{AISP}/accounts", "Account", "AccountId")
    if not customer.account_ids:
        raise OnboardingFailed("the customer's approval granted no account")
    for account_id in customer.account_ids:
        customer.statements += [(account_id, statement_id) for statement_id in await _ids(
            partner, accounts, f"{AISP}/accounts/{account_id}/statements", "Statement", "StatementId"
        )]
    return customer
