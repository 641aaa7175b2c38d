"""One TPP's whole way in, over HTTP only (ARCHITECTURE section 1, journeys 1-3): onboard at the sandbox
portal, register with the software statement (RFC 7591), a client-credentials token (private_key_jwt, DPoP),
an account-access consent, PAR, the customer's sign-in and approval in the bank's pages, and the code
redeemed for tokens.

Every secret the run creates or sends is recorded in ``Journey.secrets`` so a test can prove none of them
reaches a log. Works on in-process ASGI clients and on real processes alike: ``gateway`` may point at one
replica and ``other`` at another (both share the issuer).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx

from tests.helpers.consents import intent_claims
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.helpers.oauth import sign_in_and_decide
from tests.helpers.tpp import app_request
from tests.helpers.tpp import registration_request

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
    return fapi


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
