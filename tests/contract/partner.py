"""A partner onboarded the public way, for the contract runs: sandbox portal app, RFC 7591 registration with
its software statement, then client-credentials tokens bound to a DPoP key (RFC 9449 section 5).

It supplies the credentials the documents declare but cannot generate: a DPoP-bound access token per scope
(``Authorization: DPoP <token>``, RFC 9449 section 7.1) with a fresh proof per request (``htm``, ``htu``,
``ath``: RFC 9449 section 4.2), a client assertion for form endpoints (RFC 7523 section 2.2, FAPI 2.0: ``aud``
is the issuer), and an ``x-idempotency-key`` for the idempotent OBIE POSTs (R/W API "Idempotency").
Works the same in-process (ASGI transports) and against a live stack (plain HTTP on loopback).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx

from tests.helpers.jws import sign_body
from tests.helpers.oauth import ASSERTION_TYPE
from tests.helpers.oauth import FapiClient
from tests.helpers.tpp import app_request
from tests.helpers.tpp import registration_request

ROLES = ("AISP", "PISP", "CBPII")
OBIE_SCOPES = ("accounts", "payments", "fundsconfirmations")
SCOPE_BY_PREFIX = {
    "/open-banking/v3.1/aisp/": "accounts",
    "/open-banking/v3.1/pisp/": "payments",
    "/open-banking/v3.1/cbpii/": "fundsconfirmations",
    # The Events API takes any one of the three (events-openapi.yaml): a PISP's subscribes, an AISP's polls.
    "/open-banking/v3.1/event-subscriptions": "payments",
    "/open-banking/v3.1/events": "accounts",
}


class OnboardingFailed(AssertionError):
    """The portal, registration or token endpoint refused a well-formed partner."""


def _expect(response: httpx.Response, status: int, step: str) -> dict[str, Any]:
    if response.status_code != status:
        raise OnboardingFailed(f"{step}: expected {status}, got {response.status_code}: {response.text[:500]}")
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Partner:
    gateway: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    fapi: FapiClient
    app: dict[str, Any]
    registration: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return self.fapi.client_id

    async def token(self, scope: str) -> str:
        """A DPoP-bound client-credentials access token for ``scope`` (cached for the run)."""
        if scope not in self.tokens:
            answer = await self.fapi.token(self.gateway, {"grant_type": "client_credentials", "scope": scope})
            self.tokens[scope] = str(_expect(answer, 200, f"client_credentials token for {scope}")["access_token"])
        return self.tokens[scope]

    def client_auth(self) -> dict[str, str]:
        """private_key_jwt form fields, a fresh assertion each call (its ``jti`` is single use)."""
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.fapi.assertion()}

    async def resource_headers(self, method: str, path: str) -> dict[str, str]:
        """Authorization and DPoP for an OBIE consent endpoint, the token chosen by the path's API."""
        scope = next((s for prefix, s in SCOPE_BY_PREFIX.items() if path.startswith(prefix)), None)
        if scope is None:
            raise ValueError(f"{path} is not an OBIE path")
        token = await self.token(scope)
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": self.fapi.dpop(method.upper(), path, access_token=token),
        }

    def registration_headers(self, method: str, path: str) -> dict[str, str]:
        """RFC 7592 section 3: the registration access token, as issued (a Bearer token)."""
        return {"Authorization": f"Bearer {self.registration['registration_access_token']}"}

    def jws_signature(self, body: bytes) -> str:
        """R/W API "Message Signing": detached PS256 JWS, ``iss`` = ``{org_id}/{software_id}`` of the app."""
        issuer = f"{self.app['org_id']}/{self.app['software_id']}"
        return sign_body(body, key=self.app["private_jwk"], issuer=issuer)

    def dpop_proof(self, method: str, path: str) -> str:
        return self.fapi.dpop(method.upper(), path)


async def onboard(gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> Partner:
    """Create a portal app with every role, register it at the discovered endpoint, and return the partner."""
    app = _expect(await sandbox.post("/portal/api/apps", json=app_request(roles=ROLES)), 201, "portal app")
    meta = _expect(await gateway.get("/.well-known/openid-configuration"), 200, "discovery")
    body = registration_request(app, scope="openid " + " ".join(OBIE_SCOPES))
    registered = _expect(await gateway.post(meta["registration_endpoint"], json=body), 201, "registration")
    fapi = FapiClient(
        client_id=registered["client_id"],
        key=app["private_jwk"],
        redirect_uri=body["redirect_uris"][0],
        issuer=meta["issuer"],
    )
    return Partner(gateway=gateway, sandbox=sandbox, fapi=fapi, app=app, registration=registered)


def idempotency_key() -> str:
    # R/W API "Idempotency": at most 40 characters, unique per distinct request.
    return uuid.uuid4().hex
