"""Production mode: the customer signs in at the bank's OpenID Connect provider (docs/architecture.md section 10,
docs/bank-sign-in.md), here node-oidc-provider started once for the module (``tests.helpers.bank_idp``).

OpenID Connect Core 1.0 sections 3.1.2.1 (the authentication request: code, PKCE S256, state, nonce,
acr_values), 3.1.2.6 (the provider's error answer), 3.1.3.7 (ID token validation: acr); RFC 6749 section 10.12
(state used once). Every refusal is an error page and changes nothing: no sign-in, the consent still awaiting
authorisation, the pushed request still usable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from consent.lifecycle import ConsentStatus
from consent.models import Consent
from gateway.app import create_app
from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from gateway.store.db import Database
from sandbox.customers import customer_by_username
from tests.conftest import SANDBOX_URL
from tests.helpers.bank import sandbox_transports
from tests.helpers.bank_idp import ACR_CA
from tests.helpers.bank_idp import ACR_SCA
from tests.helpers.bank_idp import BankIdp
from tests.helpers.bank_idp import running_bank_idp
from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of

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


@pytest.fixture
async def app(production: Settings, production_keys: KeyStore, sandbox_app: Any, idp: BankIdp) -> AsyncIterator[Any]:
    application = create_app(production, keys=production_keys, **sandbox_transports(sandbox_app),
                             bank_idp_transport=idp.transport(), create_schema=True)
    async with LifespanManager(application) as manager:
        yield manager.app


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


async def push(gateway: httpx.AsyncClient, fapi: FapiClient, consent_id: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    pushed = await fapi.push(gateway, fapi.authorization_params(challenge=challenge, scope="openid accounts",
                                                                claims=intent_claims(consent_id)))
    assert pushed.status_code == 201, pushed.text
    return pushed.json()["request_uri"], verifier


async def open_authorize(gateway: httpx.AsyncClient, fapi: FapiClient, request_uri: str) -> httpx.Response:
    return await gateway.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})


async def at_the_bank(browser: httpx.AsyncClient, idp: BankIdp, authentication_request: str, *, account: str,
                      acr: str = ACR_SCA, amr: tuple[str, ...] = ("pwd", "otp"), abort: bool = False) -> str:
    """The customer at the bank's provider: the login interaction, completed with the acr and amr the test
    chooses (or cancelled); returns where the provider sends the browser back to."""
    opened = await browser.get(authentication_request)
    assert opened.status_code in (302, 303), opened.text
    interaction = urljoin(idp.issuer, opened.headers["location"])
    details = await browser.get(interaction)
    assert details.json()["prompt"] == "login", details.text
    if abort:
        finished = await browser.post(interaction + "/abort")
    else:
        finished = await browser.post(interaction + "/login", data={"account": account, "acr": acr, "amr": list(amr)})
    assert finished.status_code in (302, 303), finished.text
    resumed = await browser.get(urljoin(idp.issuer, finished.headers["location"]))
    assert resumed.status_code in (302, 303), resumed.text
    return resumed.headers["location"]


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
    assert words in response.text


async def consent_status(db: Database, consent_id: str) -> tuple[str, str | None]:
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        return consent.status, consent.psu_id


async def test_authorize_redirects_to_the_bank_with_code_pkce_state_nonce_and_acr_values(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    assert start.status_code == 303
    location = urlsplit(start.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == idp.issuer
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == idp.client_id
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "openid"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43 and query["state"] != query["nonce"]
    assert query["acr_values"] == ACR_SCA
    assert "__Host-obgw_psu=" in start.headers["set-cookie"]
    # A second visit starts a new sign-in: new state, new nonce.
    again = await open_authorize(gateway, fapi, request_uri)
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != query["state"]


async def test_the_journey_signs_in_at_the_bank_and_binds_the_consent_to_its_customer(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, verifier = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"))
    assert back.status_code == 303, back.text
    page = await gateway.get(back.headers["location"])
    assert page.status_code == 200, page.text
    assert 'action="/authorize/decision"' in page.text and 'name="username"' not in page.text
    account = page.text.split('name="account_id" value="', 1)[1].split('"', 1)[0]
    decided = await gateway.post("/authorize/decision", data={
        "csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "decision": "approve", "account_id": account})
    assert decided.status_code == 303, decided.text
    returned = query_of(decided.headers["location"])
    assert decided.headers["location"].startswith(fapi.redirect_uri + "?") and returned["iss"] == GATEWAY
    code = returned["code"]
    token = await fapi.token(gateway, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    id_token = jose.unverified_claims(token.json()["id_token"])
    assert id_token["sub"] and id_token["openbanking_intent_id"] == consent_id
    assert id_token["acr"] == ACR_SCA and id_token["amr"] == ["pwd", "otp"]
    assert await consent_status(db, consent_id) == (ConsentStatus.AUTHORISED, psu_id_of("alice"))


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


async def test_re_authentication_is_only_for_the_customer_the_bank_signed_in_first(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    async with idp.browser() as alice_at_bank:
        assert (await approve_at_bank(gateway, alice_at_bank, idp, fapi, request_uri, username="alice")).status_code == 303
    # Later, the TPP asks for re-authentication of the same consent; another customer signs in at the bank.
    again, _ = await push(gateway, fapi, consent_id)
    gateway.cookies.clear()
    async with idp.browser() as bob_at_bank:
        refused = await signed_in_at_bank(gateway, bob_at_bank, idp, fapi, again, account=psu_id_of("bob"))
        assert refused.status_code == 303, refused.text
        assert_refused(await gateway.get(refused.headers["location"]), 403, "another customer")
    # The customer it is bound to re-authenticates it.
    gateway.cookies.clear()
    async with idp.browser() as alice_again:
        confirmed = await approve_at_bank(gateway, alice_again, idp, fapi, again, username="alice")
    assert confirmed.status_code == 303 and "code" in query_of(confirmed.headers["location"])
    assert await consent_status(db, consent_id) == (ConsentStatus.AUTHORISED, psu_id_of("alice"))


async def test_an_acr_below_the_required_one_is_refused_and_changes_nothing(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"), acr=ACR_CA)
    assert_refused(back, 403, "access_denied")
    assert ACR_SCA in back.text
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)
    # Not signed in: the authorization sends the customer to the bank again.
    again = await open_authorize(gateway, fapi, request_uri)
    assert again.status_code == 303 and again.headers["location"].startswith(idp.issuer)


async def test_the_banks_error_answer_is_refused_and_changes_nothing(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"), abort=True)
    assert_refused(back, 403, "the customer cancelled")
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)
    again = await open_authorize(gateway, fapi, request_uri)
    assert again.status_code == 303 and again.headers["location"].startswith(idp.issuer)


async def test_a_replayed_answer_is_refused_even_with_the_earlier_cookie(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    cookie_before = dict(gateway.cookies)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    first = await gateway.get(back)
    assert first.status_code == 303, first.text
    # The same answer again, with the cookie as it was before the sign-in completed.
    gateway.cookies.clear()
    for name, value in cookie_before.items():
        gateway.cookies.set(name, value, domain="bank.example")
    replayed = await gateway.get(back)
    assert_refused(replayed, 403, "already used")


async def test_an_answer_with_a_state_this_browser_did_not_send_is_refused(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    query = query_of(back)
    forged = await gateway.get("/bank-sign-in/callback", params={**query, "state": "another-" + query["state"]})
    assert_refused(forged, 403, "does not belong to this sign-in")
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)


async def test_an_answer_without_a_sign_in_under_way_is_refused(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    gateway.cookies.clear()  # another browser: the answer was stolen on the way back
    assert_refused(await gateway.get(back), 403, "no sign-in at the bank is under way")


async def test_the_password_form_is_refused_in_production(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    await open_authorize(gateway, fapi, request_uri)
    response = await gateway.post("/login", data={"client_id": fapi.client_id, "request_uri": request_uri,
                                                  "username": "alice", "password": "alice-wonderland"})
    assert_refused(response, 400, "sign in at the bank")
