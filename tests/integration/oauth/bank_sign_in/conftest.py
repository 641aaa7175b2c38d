"""The bank's OpenID Connect provider (node-oidc-provider, ``tests.helpers.bank_idp``) in front of a production-mode
gateway with the sandbox bank behind it, in process (docs/architecture.md section 10, docs/bank-sign-in.md): the
fixtures and the customer's steps at the bank shared by this package's modules. The provider is started once per
module (``idp`` is module-scoped)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from asgi_lifespan import LifespanManager

from consent.models import Consent
from gateway.app import create_app
from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from gateway.store.db import Database
from sandbox.customers import customer_by_username
from tests.conftest import SANDBOX_URL
from tests.helpers.bank import sandbox_transports
from tests.helpers.bank_idp import ACR_SCA
from tests.helpers.bank_idp import BankIdp
from tests.helpers.bank_idp import running_bank_idp
from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.integration.consent.conftest import obie_specs  # noqa: F401  (the OBIE documents, for the journey's TPP)

GATEWAY = "https://bank.example"
CALLBACK = f"{GATEWAY}/bank-sign-in/callback"


def psu_id_of(username: str) -> str:
    customer = customer_by_username(username)
    assert customer is not None
    return customer.psu_id


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankIdp]:
    with running_bank_idp(work=tmp_path_factory.mktemp("bank-idp"), redirect_uri=CALLBACK,
                          accounts=[psu_id_of("alice"), psu_id_of("bob")]) as provider:
        yield provider


@pytest.fixture(scope="module")
def production_keys() -> KeyStore:
    return KeyStore.generate_in_memory(sandbox=False)


@pytest.fixture
def sandbox_settings(var_dir: Path) -> Any:
    """The sandbox bank behind a gateway whose issuer is ``GATEWAY`` (it checks the consent context's ``iss``)."""
    from sandbox.settings import SandboxSettings

    return SandboxSettings(var_dir=var_dir, public_url=SANDBOX_URL, gateway_issuer=GATEWAY)


@pytest.fixture
def production(var_dir: Path, idp: BankIdp, production_keys: KeyStore) -> Settings:
    # The sandbox bank checks the gateway's signed consent context against the keys published here.
    production_keys.save(var_dir / "keys")
    directory_jwks = var_dir / "directory-jwks.json"
    directory_jwks.write_text(json.dumps(jose.public_jwks([jose.generate_key(alg="PS256")])))
    return Settings(
        mode="production", var_dir=var_dir, issuer=GATEWAY, sandbox_url=SANDBOX_URL, headless_approval=False,
        directory_jwks_file=directory_jwks, session_secret="s" * 48, aspsp_org_id="test-aspsp",
        bank_idp_issuer=idp.issuer, bank_idp_client_id=idp.client_id, bank_idp_client_auth="private_key_jwt",
        bank_idp_private_key_file=idp.client_key_file, bank_idp_acr_values=(ACR_SCA,),
    )


@asynccontextmanager
async def production_gateway(settings: Settings, *, keys: KeyStore, sandbox_app: Any,
                             bank_idp_transport: httpx.AsyncBaseTransport) -> AsyncIterator[Any]:
    """A production-mode gateway in process, reaching the bank's provider over ``bank_idp_transport``."""
    application = create_app(settings, keys=keys, **sandbox_transports(sandbox_app),
                             bank_idp_transport=bank_idp_transport, create_schema=True)
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest.fixture
async def app(production: Settings, production_keys: KeyStore, sandbox_app: Any, idp: BankIdp) -> AsyncIterator[Any]:
    async with production_gateway(production, keys=production_keys, sandbox_app=sandbox_app,
                                  bank_idp_transport=idp.transport()) as application:
        yield application


@pytest.fixture
async def gateway(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY) as client:
        yield client


@pytest.fixture
async def db(production: Settings, app: Any) -> AsyncIterator[Database]:
    database = Database(production.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def browser(idp: BankIdp) -> AsyncIterator[httpx.AsyncClient]:
    async with idp.browser() as client:
        yield client


async def tpp_with_consent(db: Database) -> tuple[FapiClient, str]:
    fapi = await insert_client(db)
    fapi.issuer = GATEWAY
    return fapi, await lodge_account_access(db, fapi.client_id)


async def push(gateway: httpx.AsyncClient, fapi: FapiClient, consent_id: str, *,
               scope: str = "openid accounts") -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    pushed = await fapi.push(gateway, fapi.authorization_params(challenge=challenge, scope=scope,
                                                                claims=intent_claims(consent_id)))
    assert pushed.status_code == 201, pushed.text
    return pushed.json()["request_uri"], verifier


async def open_authorize(gateway: httpx.AsyncClient, fapi: FapiClient, request_uri: str) -> httpx.Response:
    return await gateway.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})


async def open_at_bank(browser: httpx.AsyncClient, idp: BankIdp,
                       authentication_request: str) -> tuple[str, dict[str, Any]]:
    """The customer opens the authentication request at the bank's provider: the login interaction it starts, and
    the authorization request's parameters as the provider received them."""
    opened = await browser.get(authentication_request)
    assert opened.status_code in (302, 303), opened.text
    interaction = urljoin(idp.issuer, opened.headers["location"])
    details = await browser.get(interaction)
    assert details.json()["prompt"] == "login", details.text
    return interaction, details.json()["params"]


async def finish_at_bank(browser: httpx.AsyncClient, idp: BankIdp, interaction: str, *, account: str,
                         acr: str = ACR_SCA, amr: tuple[str, ...] = ("pwd", "otp"), abort: bool = False) -> str:
    """The login interaction completed with the acr and amr the test chooses (or cancelled); returns where the
    provider sends the browser back to."""
    if abort:
        finished = await browser.post(interaction + "/abort")
    else:
        finished = await browser.post(interaction + "/login", data={"account": account, "acr": acr, "amr": list(amr)})
    assert finished.status_code in (302, 303), finished.text
    resumed = await browser.get(urljoin(idp.issuer, finished.headers["location"]))
    assert resumed.status_code in (302, 303), resumed.text
    return resumed.headers["location"]


async def at_the_bank(browser: httpx.AsyncClient, idp: BankIdp, authentication_request: str, **finish: Any) -> str:
    """The customer at the bank's provider: the login interaction, completed (``finish_at_bank``)."""
    interaction, _ = await open_at_bank(browser, idp, authentication_request)
    return await finish_at_bank(browser, idp, interaction, **finish)


async def signed_in_at_bank(gateway: httpx.AsyncClient, browser: httpx.AsyncClient, idp: BankIdp, fapi: FapiClient,
                            request_uri: str, **at_bank: Any) -> httpx.Response:
    start = await open_authorize(gateway, fapi, request_uri)
    assert start.status_code == 303, start.text
    back = await at_the_bank(browser, idp, start.headers["location"], **at_bank)
    assert back.startswith(CALLBACK + "?"), back
    return await gateway.get(back)


def assert_refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers  # the customer's session stays as it was
    assert words in response.text


async def consent_status(db: Database, consent_id: str) -> tuple[str, str | None]:
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        return consent.status, consent.psu_id


async def approve_at_bank(gateway: httpx.AsyncClient, browser: httpx.AsyncClient, idp: BankIdp, fapi: FapiClient,
                          request_uri: str, *, username: str) -> httpx.Response:
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of(username))
    assert back.status_code == 303, back.text
    page = await gateway.get(back.headers["location"])
    assert page.status_code == 200, page.text
    form: dict[str, Any] = {"csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id,
                            "request_uri": request_uri, "decision": "approve"}
    if 'name="account_id"' in page.text:
        form["account_id"] = page.text.split('name="account_id" value="', 1)[1].split('"', 1)[0]
    return await gateway.post("/authorize/decision", data=form)
