"""One TPP's whole way in, over HTTP only (docs/architecture.md section 1, journeys 1-3): onboard at the sandbox
portal, register with the software statement (RFC 7591), a client-credentials token (private_key_jwt, DPoP),
an account-access consent, PAR, the customer's sign-in and approval in the bank's pages, and the code
redeemed for tokens. ``payment_journey`` is the PISP's way to an authorised domestic-payment consent and the
customer's token for it (consent signed with ``x-jws-signature``, the sandbox's headless approval).

Every secret the run creates or sends is recorded in ``Journey.secrets`` so a test can prove none of them
reaches a log. Works on in-process ASGI clients and on real processes alike: ``gateway`` may point at one
replica and ``other`` at another (both share the issuer).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx

from tests.helpers.consents import intent_claims
from tests.helpers.jws import sign_body
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.helpers.oauth import sign_in_and_decide
from tests.helpers.payments import CONSENTS as PAYMENT_CONSENTS
from tests.helpers.tpp import app_request
from tests.helpers.tpp import registration_request
from tests.integration.consent.conftest import payment_body

CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"


@dataclass
class RecordingClient(FapiClient):
    """A FAPI client that remembers every assertion and proof it signs."""

    secrets: list[str] = field(default_factory=list)

    def assertion(self, **overrides: Any) -> str:
        value = super().assertion(**overrides)
        self.secrets.append(value)
        return value

    def dpop(self, method: str, path: str, **kwargs: Any) -> str:  # type: ignore[override]
        value = super().dpop(method, path, **kwargs)
        self.secrets.append(value)
        return value


@dataclass
class Journey:
    fapi: RecordingClient
    consent_id: str
    access_token: str
    refresh_token: str
    secrets: list[str]

    @property
    def client_id(self) -> str:
        return self.fapi.client_id


def _private_values(jwk: dict[str, Any]) -> list[str]:
    return [str(jwk[k]) for k in ("d", "p", "q", "dp", "dq", "qi") if k in jwk]


async def onboard(gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, *, issuer: str) -> RecordingClient:
    """Sandbox portal app + RFC 7591 registration at the discovered endpoint."""
    fapi, _ = await onboard_app(gateway, sandbox, issuer=issuer)
    return fapi


async def onboard_app(
    gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, *, issuer: str
) -> tuple[RecordingClient, dict[str, Any]]:
    """``onboard``, also giving the portal's app (``org_id``, ``software_id``, ``private_jwk``)."""
    created = await sandbox.post("/portal/api/apps", json=app_request(auth_method="private_key_jwt"))
    assert created.status_code == 201, created.text
    app = created.json()
    meta = (await gateway.get("/.well-known/openid-configuration")).json()
    registered = await gateway.post(meta["registration_endpoint"], json=registration_request(app))
    assert registered.status_code == 201, registered.text
    body = registered.json()
    fapi = RecordingClient(client_id=body["client_id"], key=app["private_jwk"], issuer=issuer,
                           redirect_uri=app_request()["redirect_uris"][0])  # fmt: skip
    fapi.secrets += [app["software_statement"], *_private_values(app["private_jwk"])]
    fapi.secrets += _private_values(fapi.dpop_key)
    if body.get("registration_access_token"):
        fapi.secrets.append(body["registration_access_token"])
    return fapi, app


async def client_credentials(http: httpx.AsyncClient, fapi: FapiClient, *, scope: str = "accounts") -> str:
    response = await fapi.token(http, {"grant_type": "client_credentials", "scope": scope})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def create_consent(http: httpx.AsyncClient, fapi: FapiClient, token: str) -> str:
    body = {"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}}
    response = await http.post(CONSENTS, json=body, headers={
        "Authorization": f"DPoP {token}", "DPoP": fapi.dpop("POST", CONSENTS, access_token=token),
    })  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["Data"]["ConsentId"])


async def push(http: httpx.AsyncClient, fapi: RecordingClient, consent_id: str) -> tuple[str, str]:
    """PAR for the consent: (request_uri, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = fapi.authorization_params(challenge=challenge, scope="openid accounts", claims=intent_claims(consent_id))
    pushed = await fapi.push(http, params)
    assert pushed.status_code == 201, pushed.text
    request_uri = str(pushed.json()["request_uri"])
    fapi.secrets += [request_uri, verifier]
    return request_uri, verifier


async def approve(http: httpx.AsyncClient, fapi: FapiClient, request_uri: str) -> str:
    """The customer signs in and approves in the bank's pages; returns the authorization code."""
    final = await sign_in_and_decide(http, fapi, request_uri)
    assert final.status_code == 303, final.text
    return query_of(final.headers["location"])["code"]


async def redeem(http: httpx.AsyncClient, fapi: FapiClient, code: str, verifier: str) -> httpx.Response:
    return await fapi.token(http, {"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})  # fmt: skip


async def run_journey(gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, *, issuer: str) -> Journey:
    fapi = await onboard(gateway, sandbox, issuer=issuer)
    cc_token = await client_credentials(gateway, fapi)
    consent_id = await create_consent(gateway, fapi, cc_token)
    request_uri, verifier = await push(gateway, fapi, consent_id)
    code = await approve(gateway, fapi, request_uri)
    tokens = await redeem(gateway, fapi, code, verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    fapi.secrets += [cc_token, code, body["access_token"], body["refresh_token"], body["id_token"],
                     PSU_PASSWORD, PSU_USERNAME]  # fmt: skip
    return Journey(fapi=fapi, consent_id=consent_id, access_token=body["access_token"],
                   refresh_token=body["refresh_token"], secrets=fapi.secrets)  # fmt: skip


# --------------------------------------------------------------------------- payments (PISP)


@dataclass
class PaymentGrant:
    """An authorised domestic-payment consent and what its TPP needs to submit the order."""

    fapi: RecordingClient
    app: dict[str, Any]
    consent_id: str
    access_token: str
    consent_body: dict[str, Any]

    def signature(self, content: bytes) -> str:
        """R/W API "Message Signing": detached PS256 JWS, ``iss`` = ``{org_id}/{software_id}`` of the app."""
        return sign_body(content, key=self.app["private_jwk"], issuer=f"{self.app['org_id']}/{self.app['software_id']}")

    def order_content(self) -> bytes:
        """The payment order for the consent: its ConsentId, Initiation and Risk exactly (docs/obie-notes.md section 9 step 4)."""
        data = self.consent_body["Data"]
        return json.dumps({"Data": {"ConsentId": self.consent_id, "Initiation": data["Initiation"]},
                           "Risk": self.consent_body["Risk"]}).encode()

    def order_headers(self, path: str, *, content: bytes, key: str) -> dict[str, str]:
        """A fresh DPoP proof with the customer's token, the idempotency key and the body's signature."""
        return {"Authorization": f"DPoP {self.access_token}",
                "DPoP": self.fapi.dpop("POST", path, access_token=self.access_token),
                "Content-Type": "application/json", "x-idempotency-key": key,
                "x-jws-signature": self.signature(content)}


async def payment_journey(gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, *, issuer: str,
                          collection: str = "domestic-payments") -> PaymentGrant:
    """Onboard, a payments client-credentials token, a signed payment consent, PAR and the customer's headless
    approval (the first offered debtor account), the code redeemed for the customer's token."""
    fapi, app = await onboard_app(gateway, sandbox, issuer=issuer)
    cc_token = await client_credentials(gateway, fapi, scope="payments")
    path = PAYMENT_CONSENTS[collection]
    body = payment_body(path)
    content = json.dumps(body).encode()
    grant = PaymentGrant(fapi=fapi, app=app, consent_id="", access_token="", consent_body=body)
    created = await gateway.post(path, content=content, headers={
        "Authorization": f"DPoP {cc_token}", "DPoP": fapi.dpop("POST", path, access_token=cc_token),
        "Content-Type": "application/json", "x-idempotency-key": uuid.uuid4().hex,
        "x-jws-signature": grant.signature(content),
    })  # fmt: skip
    assert created.status_code == 201, created.text
    grant.consent_id = str(created.json()["Data"]["ConsentId"])

    verifier, challenge = pkce_pair()
    pushed = await fapi.push(gateway, fapi.authorization_params(
        challenge=challenge, scope="openid payments", claims=intent_claims(grant.consent_id)))
    assert pushed.status_code == 201, pushed.text
    decided = await gateway.post("/sandbox/headless-authorize", data={
        "client_id": fapi.client_id, "request_uri": pushed.json()["request_uri"], "username": PSU_USERNAME,
        "password": PSU_PASSWORD, "decision": "approve",
    })  # fmt: skip
    assert decided.status_code == 200, decided.text
    code = query_of(decided.json()["redirect_to"])["code"]
    tokens = await redeem(gateway, fapi, code, verifier)
    assert tokens.status_code == 200, tokens.text
    grant.access_token = str(tokens.json()["access_token"])
    return grant
