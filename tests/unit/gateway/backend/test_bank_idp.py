"""The gateway as a relying party of the bank's OpenID Connect provider (``gateway.backend.bank_idp``), against
a provider answered in-process: OpenID Connect Discovery 1.0 section 4.3 (issuer identical), Core 1.0 section
3.1.3.7 (ID token validation) and RFC 9207 section 2.4 (``iss`` of the authorization response). Each check is
shown refusing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from gateway.backend.bank_idp import BankIdentityProvider
from gateway.backend.bank_idp import BankIdpUnavailable
from gateway.backend.bank_idp import BankSignInRefused
from gateway.backend.bank_idp import SignInRequest
from gateway.security import jose
from gateway.settings import Settings

ISSUER = "https://idp.bank.example"
CLIENT = "obgw-gateway"
SCA = "urn:openbanking:psd2:sca"
NONCE = "n-0S6_WzA2Mj"
PROVIDER_KEY = jose.generate_key(alg="ES256", kid="idp-1")


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {"bank_idp_issuer": ISSUER, "bank_idp_client_id": CLIENT,
                              "bank_idp_client_secret": "secret", "bank_idp_acr_values": (SCA,)}
    return Settings(**{**values, **changes})


def metadata(**changes: Any) -> dict[str, Any]:
    return {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize", "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks", "authorization_response_iss_parameter_supported": True, **changes}


def id_token(key: dict[str, Any] = PROVIDER_KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "psu-123", "iat": now, "exp": now + 300, "nonce": NONCE,
              "acr": SCA, "amr": ["pwd", "otp"], "auth_time": now}
    claims.update(changes)
    return jose.sign({k: v for k, v in claims.items() if v is not None}, key=key)


def provider(*, meta: dict[str, Any] | None = None, token: str | None = None,
             token_status: int = 200) -> tuple[BankIdentityProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=meta or metadata())
        if request.url.path == "/jwks":
            return httpx.Response(200, json=jose.public_jwks([PROVIDER_KEY]))
        if request.url.path == "/token" and token_status == 200:
            return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": token})
        if request.url.path == "/token":
            return httpx.Response(token_status, json={"error": "invalid_grant", "error_description": "code used"})
        return httpx.Response(404)

    return BankIdentityProvider(settings=settings(), transport=httpx.MockTransport(answer)), seen


SIGN_IN = SignInRequest(state="state-1", nonce=NONCE, code_verifier="v" * 43)


async def complete(idp: BankIdentityProvider, **answer: str) -> Any:
    return await idp.complete(response={"code": "c", "state": "state-1", "iss": ISSUER, **answer}, request=SIGN_IN)


async def test_a_valid_answer_names_the_customer_and_how_they_authenticated() -> None:
    idp, seen = provider(token=id_token())
    customer = await complete(idp)
    assert (customer.psu_id, customer.acr, customer.amr) == ("psu-123", SCA, ("pwd", "otp"))
    redeemed = next(r for r in seen if r.url.path == "/token")
    form = dict(httpx.QueryParams(redeemed.content.decode()))
    assert form["code_verifier"] == SIGN_IN.code_verifier and form["grant_type"] == "authorization_code"
    assert not any("authorization" in r.headers for r in seen if r.method == "GET")


async def test_each_private_key_jwt_assertion_is_new_and_addressed_to_the_issuer(tmp_path: Any) -> None:
    client_key = jose.generate_key(alg="ES256")
    key_file = tmp_path / "client-key.json"
    key_file.write_text(json.dumps(client_key))
    idp, seen = provider(token=id_token())
    await idp.close()
    idp = BankIdentityProvider(settings=settings(bank_idp_client_auth="private_key_jwt",
                                                 bank_idp_private_key_file=key_file),
                               transport=idp._http._transport)
    await complete(idp)
    await complete(idp)
    forms = [dict(httpx.QueryParams(r.content.decode())) for r in seen if r.url.path == "/token"]
    assertions = [jose.verify(f["client_assertion"], key=jose.public_jwk(client_key), audience=ISSUER)
                  for f in forms]
    assert len(assertions) == 2 and assertions[0]["jti"] != assertions[1]["jti"]
    assert all(a["iss"] == a["sub"] == CLIENT for a in assertions)


async def test_the_customer_comes_from_the_configured_claim() -> None:
    idp, _ = provider(token=id_token(customer_number="C-42"))
    idp._settings = settings(bank_idp_psu_claim="customer_number")
    assert (await complete(idp)).psu_id == "C-42"
    idp, _ = provider(token=id_token())
    idp._settings = settings(bank_idp_psu_claim="customer_number")
    with pytest.raises(BankSignInRefused, match="does not name the customer"):
        await complete(idp)


@pytest.mark.parametrize(("changes", "words"), [
    ({"iss": "https://other.example"}, "iss mismatch"),
    ({"aud": "another-client"}, "aud mismatch"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"nonce": None}, "nonce missing"),
    ({"nonce": "another-nonce"}, "nonce missing or not this sign-in's"),
    ({"acr": "urn:openbanking:psd2:ca"}, SCA),
    ({"acr": None}, "no stated"),
    ({"aud": [CLIENT, "another-client"]}, "azp"),
])
async def test_an_id_token_that_does_not_hold_is_refused(changes: dict[str, Any], words: str) -> None:
    idp, _ = provider(token=id_token(**changes))
    with pytest.raises(BankSignInRefused, match=words):
        await complete(idp)


async def test_an_id_token_signed_by_another_key_is_refused() -> None:
    idp, seen = provider(token=id_token(key=jose.generate_key(alg="ES256", kid="idp-1")))
    with pytest.raises(BankSignInRefused, match="signature invalid"):
        await complete(idp)
    idp, seen = provider(token=id_token(key=jose.generate_key(alg="ES256", kid="unknown")))
    with pytest.raises(BankSignInRefused, match="no matching key"):
        await complete(idp)
    # An unknown kid reads the provider's JWKS once more (key rotation) before refusing.
    assert sum(r.url.path == "/jwks" for r in seen) == 2


async def test_an_unsigned_id_token_is_refused() -> None:
    claims = jose.unverified_claims(id_token())
    unsigned = ".".join((jose.b64url(b'{"alg":"none"}'), jose.b64url(json.dumps(claims).encode()), ""))
    idp, _ = provider(token=unsigned)
    with pytest.raises(BankSignInRefused, match="not allowed"):
        await complete(idp)


async def test_the_providers_error_answer_is_refused_without_redeeming_anything() -> None:
    idp, seen = provider(token=id_token())
    with pytest.raises(BankSignInRefused, match="login_required"):
        await idp.complete(response={"error": "login_required", "state": "state-1", "iss": ISSUER}, request=SIGN_IN)
    assert not any(r.url.path == "/token" for r in seen)


async def test_an_answer_from_another_issuer_or_without_iss_is_refused() -> None:
    idp, seen = provider(token=id_token())
    with pytest.raises(BankSignInRefused, match="did not come from the bank"):
        await complete(idp, iss="https://attacker.example")
    with pytest.raises(BankSignInRefused, match="did not come from the bank"):
        await idp.complete(response={"code": "c", "state": "state-1"}, request=SIGN_IN)
    assert not any(r.url.path == "/token" for r in seen)


async def test_checking_an_answer_asks_the_provider_for_nothing_but_its_metadata() -> None:
    # What the gateway checks before it spends the sign-in's state: a forged answer costs the provider nothing.
    idp, seen = provider(token=id_token())
    for forged, words in (({"iss": "https://attacker.example"}, "did not come from the bank"),
                          ({"state": "state-2"}, "does not belong")):
        with pytest.raises(BankSignInRefused, match=words):
            await idp.check_answer(response={"code": "c", "state": "state-1", "iss": ISSUER, **forged},
                                   request=SIGN_IN)
    assert (await idp.check_answer(response={"code": "c", "state": "state-1", "iss": ISSUER},
                                   request=SIGN_IN))["issuer"] == ISSUER
    assert [r.url.path for r in seen] == ["/.well-known/openid-configuration"]


async def test_an_answer_for_another_state_is_refused() -> None:
    idp, _ = provider(token=id_token())
    with pytest.raises(BankSignInRefused, match="does not belong"):
        await complete(idp, state="state-2")


async def test_a_refused_code_is_refused() -> None:
    idp, _ = provider(token=None, token_status=400)
    with pytest.raises(BankSignInRefused, match="invalid_grant"):
        await complete(idp)


async def test_an_unreachable_or_broken_provider_is_unavailable() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for answer in (broken, refused):
        idp = BankIdentityProvider(settings=settings(), transport=httpx.MockTransport(answer))
        with pytest.raises(BankIdpUnavailable):
            await idp.authorization_url(request=SIGN_IN)
    idp, _ = provider(meta={"issuer": ISSUER})
    with pytest.raises(BankIdpUnavailable, match="lacks authorization_endpoint"):
        await idp.metadata()


async def test_metadata_naming_another_issuer_is_refused() -> None:
    idp, _ = provider(meta=metadata(issuer="https://other.example"))
    with pytest.raises(BankIdpUnavailable, match="names issuer"):
        await idp.metadata()


async def test_the_authentication_request_carries_pkce_state_nonce_and_acr_values() -> None:
    idp, _ = provider()
    url = httpx.URL(await idp.authorization_url(request=SIGN_IN))
    query = dict(url.params)
    assert str(url).startswith(f"{ISSUER}/authorize?")
    assert query["state"] == "state-1" and query["nonce"] == NONCE and query["acr_values"] == SCA
    assert query["code_challenge"] == jose.sha256_b64url(SIGN_IN.code_verifier)
    assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"


def test_production_requires_the_bank_idp_settings() -> None:
    from gateway.settings import SettingsError

    base = Settings(mode="production", issuer="https://gw.example", headless_approval=False, session_secret="s",
                    aspsp_org_id="org")
    with pytest.raises(SettingsError) as refused:
        base.check_production()
    for setting in ("OBGW_BANK_IDP_ISSUER", "OBGW_BANK_IDP_CLIENT_ID", "OBGW_BANK_IDP_ACR_VALUES",
                    "OBGW_BANK_IDP_CLIENT_SECRET"):
        assert setting in str(refused.value)
    key_auth = base.replace(bank_idp_client_auth="private_key_jwt")
    assert key_auth.bank_idp_client_auth_problems() == [
        "OBGW_BANK_IDP_PRIVATE_KEY_FILE is required with OBGW_BANK_IDP_CLIENT_AUTH=private_key_jwt"]
    assert "must be" in base.replace(bank_idp_client_auth="none").bank_idp_client_auth_problems()[0]
