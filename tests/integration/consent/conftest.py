"""Fixtures for the TPP consent endpoints: the gateway with the consent routes, a TPP holding a DPoP-bound
client-credentials token that signs its payment-consent requests (``x-jws-signature``), and every response
checked against our OBIE OpenAPI documents with openapi-core (payment responses: also their signature, against
the gateway's published ``/jwks``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.validators import V30ResponseDataValidator
from openapi_core.validation.response.validators import V30ResponseValidator
from sqlmodel import col
from sqlmodel import func
from sqlmodel import select

from consent.models import Consent
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.settings import Settings
from tests.helpers.bank import sandbox_transports
from tests.helpers.jws import sign_body
from tests.helpers.jws import signing_key
from tests.helpers.jws import verify_detached
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client

ALL_SCOPES = "openid accounts payments fundsconfirmations"
AISP = "/open-banking/v3.1/aisp/account-access-consents"
PISP = "/open-banking/v3.1/pisp"
CBPII = "/open-banking/v3.1/cbpii/funds-confirmation-consents"
SUBSCRIPTIONS_PATH = "/event-subscriptions"
PAYMENT_COLLECTIONS = (
    f"{PISP}/domestic-payment-consents",
    f"{PISP}/domestic-scheduled-payment-consents",
    f"{PISP}/domestic-standing-order-consents",
)


@pytest.fixture(scope="session")
def obie_specs() -> OpenApiSpecs:
    """The OBIE documents the gateway serves, loaded once for the run (as the gateway loads them once per process)."""
    settings = Settings()
    return load_specs(settings.openapi_dir, declared=declared_operations(settings.policies_dir))


@pytest.fixture
async def gateway_app(settings, gateway_keys, sandbox_app):  # type: ignore[no-untyped-def]
    """The shared ``gateway_app`` plus the consent routes (mounted here until ``create_app`` mounts them)."""
    from gateway.app import create_app
    from gateway.hosting import consent_routes

    app = create_app(
        settings, keys=gateway_keys, **sandbox_transports(sandbox_app), create_schema=True
    )
    if not any(getattr(route, "path", None) == AISP for route in app.routes):
        app.router.routes.extend(consent_routes.routes(app.state.services))
    async with LifespanManager(app) as manager:
        yield manager.app


# --------------------------------------------------------------------------- spec validation


@dataclass
class _SpecRequest:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _SpecResponse:
    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


def assert_matches_spec(specs: OpenApiSpecs, response: httpx.Response) -> None:
    """The response is what our OpenAPI document declares for this operation and status (openapi-core).

    Payment-consent responses are checked for their body and headers, ``x-jws-signature`` included (``Tpp.call``
    also verifies that signature).
    """
    request = response.request
    match = specs.find(request.method, request.url.path)
    assert match is not None, f"{request.method} {request.url.path} is not in our documents"
    assert response.headers.get("x-fapi-interaction-id"), "x-fapi-interaction-id missing"
    spec_request = _SpecRequest(
        host_url=ISSUER,
        path=request.url.path,
        method=request.method.lower(),
        body=request.content or None,
        content_type=request.headers.get("content-type", ""),
    )
    spec_response = _SpecResponse(
        status_code=response.status_code,
        content_type=response.headers.get("content-type", ""),
        headers=dict(response.headers),
        data=response.content or None,
    )
    openapi = specs[match.operation.api]
    # Only bodies of our documented statuses carry a signature; a bodyless answer has nothing to sign.
    headers_checked = response.content != b"" or match.operation.api != "payments"
    validator = V30ResponseValidator if headers_checked else V30ResponseDataValidator
    validator(openapi.spec).validate(spec_request, spec_response)  # type: ignore[arg-type]


def assert_ob_error(response: httpx.Response, status: int, code: str, path: str | None = None) -> dict[str, Any]:
    """An ``OBErrorResponse1`` with ``status`` whose Errors include ``code`` (at ``path`` when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    found = [e for e in body["Errors"] if e["ErrorCode"] == code and (path is None or e.get("Path") == path)]
    assert found, f"no {code} at {path} in {body['Errors']}"
    return body  # type: ignore[no-any-return]


def assert_bodyless(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.content == b""
    assert response.headers.get("x-fapi-interaction-id")


# --------------------------------------------------------------------------- the TPP


def scope_of(path: str) -> str:
    for api, scope in (("/aisp/", "accounts"), ("/pisp/", "payments"), ("/cbpii/", "fundsconfirmations")):
        if api in path:
            return scope
    raise AssertionError(path)


@dataclass
class Tpp:
    """A TPP calling the consent endpoints with its DPoP-bound client-credentials token, a fresh proof each
    call, and every answer checked against the OpenAPI documents."""

    http: httpx.AsyncClient
    fapi: FapiClient
    specs: OpenApiSpecs
    token: str
    # The issuer the TPP signs as: ``{org_id}/{software_id}``, or the software id when it has no organisation.
    signer: str = ""

    def auth(self, method: str, path: str) -> dict[str, str]:
        return {"Authorization": f"DPoP {self.token}", "DPoP": self.fapi.dpop(method, path, access_token=self.token)}

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authorized: bool = True,
        check: bool = True,
        sign: bool = True,
    ) -> httpx.Response:
        sent: dict[str, str] = {}
        if authorized:
            sent.update(self.auth(method, path))
        if body is not None or content is not None:
            sent["Content-Type"] = "application/json"
            content = content if content is not None else json.dumps(body).encode()
        signed = (method == "POST" and "/pisp/" in path) or (method in ("POST", "PUT") and SUBSCRIPTIONS_PATH in path)
        if sign and signed and content is not None:
            # R/W API "Message Signing": payment-consent POSTs and event-subscription POSTs and PUTs
            # (events-openapi.yaml) are signed over the exact bytes sent.
            sent["x-jws-signature"] = sign_body(content, key=self.fapi.key, issuer=self.signer)
        sent.update(headers or {})
        response = await self.http.request(method, path, content=content, headers=sent)
        if check:
            assert_matches_spec(self.specs, response)
            if ("/pisp/" in path or (SUBSCRIPTIONS_PATH in path and method != "DELETE")) and response.content:
                await self.assert_signed(response)
        return response

    async def assert_signed(self, response: httpx.Response) -> dict[str, Any]:
        """The response's ``x-jws-signature`` verifies over its body with the gateway's published keys."""
        value = response.headers.get("x-jws-signature")
        assert value, "payment response without x-jws-signature"
        jwks = (await self.http.get("/jwks")).json()
        return verify_detached(value, body=response.content, jwks=jwks)

    async def create(self, path: str, body: Any, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["x-idempotency-key"] = key
        return await self.call("POST", path, body=body, headers=headers, **kwargs)


async def cc_token(http: httpx.AsyncClient, fapi: FapiClient, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    response = await fapi.token(http, form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def new_tpp(http: httpx.AsyncClient, db: Any, specs: OpenApiSpecs, *, scope: str = ALL_SCOPES) -> Tpp:
    # PS256: the key signs both the client assertions and the OBIE message signatures (which must be PS256).
    fapi = await insert_client(db, scope=scope, key=signing_key())
    return Tpp(http=http, fapi=fapi, specs=specs, token=await cc_token(http, fapi),
               signer=f"software-{fapi.client_id}")


@pytest.fixture
async def tpp(client, db, obie_specs) -> Tpp:  # type: ignore[no-untyped-def]
    return await new_tpp(client, db, obie_specs)


@pytest.fixture
async def other_tpp(client, db, obie_specs) -> Tpp:  # type: ignore[no-untyped-def]
    return await new_tpp(client, db, obie_specs)


async def consent_count(db: Any, client_id: str) -> int:
    async with db.session() as session:
        result = await session.exec(select(func.count()).select_from(Consent).where(col(Consent.client_id) == client_id))
        return int(result.one())


# --------------------------------------------------------------------------- request bodies


def account_access_body(**data: Any) -> dict[str, Any]:
    return {
        "Data": {
            "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits"],
            "ExpirationDateTime": "2099-01-01T00:00:00+00:00",
            "TransactionFromDateTime": "2024-01-01T00:00:00+00:00",
            "TransactionToDateTime": "2098-12-31T23:59:59+00:00",
            **data,
        },
        "Risk": {},
    }


def _initiation() -> dict[str, Any]:
    return {
        "InstructionIdentification": "ACME412",
        "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
        "CreditorAccount": {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber",
            "Identification": "08080021325698",
            "Name": "ACME Inc",
            "SecondaryIdentification": "0002",
        },
        "RemittanceInformation": {"Reference": "FRESCO-101", "Unstructured": "Internal ops code 5120101"},
    }


def payment_body(collection: str) -> dict[str, Any]:
    """A minimal valid request for each payment consent kind (the OBIE examples' values)."""
    initiation = _initiation()
    data: dict[str, Any] = {"Initiation": initiation}
    if collection.endswith("domestic-scheduled-payment-consents"):
        data["Permission"] = "Create"
        initiation["RequestedExecutionDateTime"] = "2099-04-05T10:43:07+00:00"
    elif collection.endswith("domestic-standing-order-consents"):
        data["Permission"] = "Create"
        data["Initiation"] = {
            "Frequency": "EvryWorkgDay",
            "Reference": "Pocket money for Damien",
            "FirstPaymentDateTime": "2099-06-06T06:06:06+00:00",
            "FirstPaymentAmount": {"Amount": "6.66", "Currency": "GBP"},
            "CreditorAccount": initiation["CreditorAccount"],
        }
    return {"Data": data, "Risk": {"PaymentContextCode": "EcommerceGoods", "MerchantCategoryCode": "5967"}}


def funds_body(**debtor: Any) -> dict[str, Any]:
    return {
        "Data": {
            "ExpirationDateTime": "2099-05-02T00:00:00+00:00",
            "DebtorAccount": {
                "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                "Identification": "40400422390112",
                "Name": "Mrs B Smith",
                **debtor,
            },
        }
    }


def vrp_body() -> dict[str, Any]:
    """A valid domestic VRP consent request (OBDomesticVRPConsentRequest, the OBIE example's shape): sweeping,
    up to GBP 50 a payment, GBP 100 a calendar month and GBP 500 a calendar year."""
    return {
        "Data": {
            "ControlParameters": {
                "ValidFromDateTime": "2024-01-01T00:00:00+00:00",
                "ValidToDateTime": "2099-12-31T23:59:59+00:00",
                "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
                "PeriodicLimits": [
                    {"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100.00", "Currency": "GBP"},
                    {"PeriodType": "Year", "PeriodAlignment": "Calendar", "Amount": "500.00", "Currency": "GBP"},
                ],
                "VRPType": ["UK.OBIE.VRPType.Sweeping"],
                "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
                "PSUInteractionTypes": ["OffSession"],
            },
            "Initiation": {
                "CreditorAccount": {
                    "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                    "Identification": "08080021325698",
                    "Name": "Mrs B Smith savings",
                },
                "RemittanceInformation": {"Reference": "Sweep to savings"},
            },
        },
        "Risk": {"PaymentContextCode": "PartyToParty"},
    }
