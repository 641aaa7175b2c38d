"""Fixtures for the consent page and dashboard: a TPP registered for every OBIE scope, consents lodged through
the consent service (as the TPP endpoints do), and the customer's browser walk with httpx."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import httpx
import pytest

from consent import service
from consent.models import Consent
from sandbox.customers import accounts_of
from sandbox.customers import customer_by_username
from tests.helpers.consents import lodge_account_access as helpers_lodge
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.helpers.oauth import sign_in

ALL_SCOPES = "openid accounts payments fundsconfirmations"
PERMISSIONS = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits",
               "ReadTransactionsDebits"]


def alice_psu_id() -> str:
    customer = customer_by_username(PSU_USERNAME)
    assert customer is not None
    return customer.psu_id


def account_ids(username: str) -> list[str]:
    """The sandbox bank's account ids of a test customer (deterministic seed data)."""
    from sandbox.customers import account_id

    return [account_id(key=a.key) for a in accounts_of(username)]


def intent_claims(consent_id: str) -> str:
    return json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}})


@pytest.fixture
async def tpp(client, db) -> FapiClient:  # type: ignore[no-untyped-def]
    return await insert_client(db, scope=ALL_SCOPES, client_name="Budget Buddy")


# Fixed dates so the plain-words wording can be asserted; the expiry lies far enough ahead to stay valid.
EXPIRES = datetime(2030, 12, 12, tzinfo=UTC)


async def lodge_account_access(db: Any, client_id: str, *, expires: datetime | None = None) -> str:
    return await helpers_lodge(db, client_id, expires=expires or EXPIRES, permissions=PERMISSIONS,
                               transaction_from=datetime(2026, 3, 1, tzinfo=UTC),
                               transaction_to=datetime(2026, 5, 31, tzinfo=UTC))


async def lodge_payment(db: Any, client_id: str) -> str:
    now = datetime.now(UTC)
    async with db.session() as session:
        consent = await service.create_payment_consent(
            session=session, client_id=client_id, kind="domestic-payment", now=now,
            idempotency_key=f"key-{now.timestamp()}", request_hash="h" * 64, idempotency_window=timedelta(hours=24),
            risk={"PaymentContextCode": "EcommerceGoods"},
            data={"Initiation": {
                "InstructionIdentification": "ACME412", "EndToEndIdentification": "FRESCO.21302.GFX.20",
                "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
                "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                    "Identification": "08080021325698", "Name": "ACME Inc"},
                "RemittanceInformation": {"Reference": "FRESCO-101"},
            }},
        )
        return consent.consent_id


async def lodge_funds_confirmation(db: Any, client_id: str) -> str:
    async with db.session() as session:
        consent = await service.create_funds_confirmation_consent(
            session=session, client_id=client_id, now=datetime.now(UTC),
            data={"ExpirationDateTime": "2099-05-02T00:00:00+00:00",
                  "DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                    "Identification": "40004012345678", "Name": "Alice Andrews"}},
        )
        return consent.consent_id


async def load_consent(db: Any, consent_id: str) -> tuple[Consent, list[str]]:
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        accounts = await service.consented_accounts(session=session, consent_id=consent_id)
        return consent, list(accounts)


async def push(http: httpx.AsyncClient, fapi: FapiClient, *, scope: str = "openid accounts",
               **extra: Any) -> tuple[str, str]:
    """PAR as the TPP: (request_uri, code_verifier)."""
    verifier, challenge = pkce_pair()
    response = await fapi.push(http, fapi.authorization_params(challenge=challenge, scope=scope, **extra))
    assert response.status_code == 201, response.text
    return response.json()["request_uri"], verifier


async def consent_page(http: httpx.AsyncClient, fapi: FapiClient, request_uri: str) -> httpx.Response:
    """The customer opens /authorize and signs in at the bank: the consent page."""
    page = await http.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})
    assert page.status_code == 200, page.text
    signed_in = await sign_in(http, fapi, request_uri, page)
    assert signed_in.status_code == 303, signed_in.text
    page = await http.get(signed_in.headers["location"])
    assert page.status_code == 200, page.text
    return page


async def decide(http: httpx.AsyncClient, fapi: FapiClient, request_uri: str, page: httpx.Response, *,
                 decision: str = "approve", accounts: tuple[str, ...] | list[str] = (), csrf: str | None = None) -> httpx.Response:
    form: list[tuple[str, str]] = [
        ("client_id", fapi.client_id), ("request_uri", request_uri), ("decision", decision),
        *[("account_id", a) for a in accounts],
    ]
    token = hidden_field(page.text, "csrf") if csrf is None else csrf
    if token:
        form.append(("csrf", token))
    return await http.post("/authorize/decision", content=str(httpx.QueryParams(form)),
                           headers={"content-type": "application/x-www-form-urlencoded"})


async def redeem(http: httpx.AsyncClient, fapi: FapiClient, location: str, verifier: str) -> httpx.Response:
    code = query_of(location)["code"]
    return await fapi.token(http, {"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})


async def authorised_consent(http: httpx.AsyncClient, db: Any, fapi: FapiClient, *,
                             accounts: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """A consent lodged, approved by alice with ``accounts`` (default: her first) and redeemed: (id, tokens)."""
    consent_id = await lodge_account_access(db, fapi.client_id)
    request_uri, verifier = await push(http, fapi, claims=intent_claims(consent_id))
    page = await consent_page(http, fapi, request_uri)
    final = await decide(http, fapi, request_uri, page, accounts=accounts or account_ids("alice")[:1])
    assert final.status_code == 303, final.text
    issued = await redeem(http, fapi, final.headers["location"], verifier)
    assert issued.status_code == 200, issued.text
    return consent_id, issued.json()


def past(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)



async def lodge_vrp(db: Any, client_id: str) -> str:
    """A sweeping VRP consent: up to GBP 50.00 a payment and GBP 100.00 a calendar month, until 31 December 2099."""
    now = datetime.now(UTC)
    async with db.session() as session:
        consent = await service.create_payment_consent(
            session=session, client_id=client_id, kind="domestic-vrp", now=now,
            idempotency_key=f"vrp-{now.timestamp()}", request_hash="v" * 64, idempotency_window=timedelta(hours=24),
            risk={"PaymentContextCode": "PartyToParty"},
            data={
                "ControlParameters": {
                    "ValidToDateTime": "2099-12-31T00:00:00+00:00",
                    "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
                    "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100.00",
                                        "Currency": "GBP"}],
                    "VRPType": ["UK.OBIE.VRPType.Sweeping"],
                    "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
                },
                "Initiation": {"CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                                   "Identification": "08080021325698", "Name": "Alice savings"}},
            },
        )
        return consent.consent_id
