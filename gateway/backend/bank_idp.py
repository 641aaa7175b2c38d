"""The bank's OpenID Connect provider, as the gateway signs customers in through it (docs/architecture.md
section 10, docs/bank-sign-in.md).

OpenID Connect Discovery 1.0 section 4: the provider's metadata is read from
``{OBGW_BANK_IDP_ISSUER}/.well-known/openid-configuration`` once and its ``issuer`` must equal the configured one
exactly (section 4.3). OpenID Connect Core 1.0 section 3.1.2.1: the authentication request is the authorization
code flow with PKCE S256 (RFC 7636 section 4), ``state``, ``nonce`` and the configured ``acr_values`` (section
3.1.2.1, the SCA the bank must perform; also asked as an essential ``acr`` claim with those values, with ``amr``
and ``auth_time``, section 5.5). Section 3.1.3: the code is redeemed by authlib's OAuth 2.0 client with the
client's secret or a ``private_key_jwt`` assertion (section 9). Section 3.1.3.7: the ID token's signature is checked
against the provider's JWKS (fetched again once for an unknown ``kid``: key rotation), its ``iss``, ``aud`` (and
``azp`` when several audiences), ``exp`` and ``iat``, and its ``nonce`` against the one this sign-in sent; its
``acr`` must be one of the configured values (section 2, "acr"), its ``amr`` is kept, and the customer is the
configured claim (``OBGW_BANK_IDP_PSU_CLAIM``, default ``sub``). RFC 9207 section 2.4: when the provider says it
sends ``iss`` in the authorization response, the response must carry the provider's issuer.
"""

from __future__ import annotations

import hmac
import json
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge

with warnings.catch_warnings():
    # Newer authlib releases warn on this import that their httpx module is deprecated; the client is the same.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwk

from gateway.security import jose
from gateway.settings import Settings

# OpenID Connect Discovery 1.0 section 3: the metadata the gateway needs from the provider.
_REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class BankSignInRefused(Exception):
    """The bank's identity provider, or what it sent back, does not sign this customer in."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BankIdpUnavailable(Exception):
    """The bank's identity provider cannot be reached or answers nonsense."""


@dataclass(frozen=True, kw_only=True)
class SignInRequest:
    """What one authentication request sent, kept to check its answer: each value random and used once."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, kw_only=True)
class BankCustomer:
    """The customer the bank signed in: the PSU id consents are bound to, and how they authenticated."""

    psu_id: str
    name: str
    acr: str
    amr: tuple[str, ...]
    auth_time: int | None


def new_sign_in_request() -> SignInRequest:
    # RFC 7636 section 4.1: 32 random octets, base64url, 43 characters.
    return SignInRequest(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                         code_verifier=secrets.token_urlsafe(32))


class _IssuerAudienceKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt`` with the issuer as audience and a new ``jti`` per assertion (RFC 7523 section
    3: each assertion used once). authlib's own adds its ``jti`` to the shared ``claims`` it was given, so
    every later assertion would carry the first one's and the provider would refuse it as replayed."""

    def __init__(self, *, audience: str, alg: str) -> None:
        super().__init__(alg=alg)
        self._audience = audience

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(private_key_jwt_sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
                                        claims={"aud": self._audience, "jti": jose.new_jti()}, alg=self.alg))


class BankIdentityProvider:
    """The gateway as an OpenID Connect relying party of the bank's provider (one per gateway process)."""

    def __init__(self, *, settings: Settings, transport: httpx.AsyncBaseTransport | None = None,
                 leeway: int = 60) -> None:
        self._settings = settings
        self._leeway = leeway
        self._metadata: dict[str, Any] | None = None
        self._jwks: list[dict[str, Any]] | None = None
        private_key: dict[str, Any] | None = None
        if settings.bank_idp_client_auth == "private_key_jwt" and settings.bank_idp_private_key_file is not None:
            private_key = json.loads(settings.bank_idp_private_key_file.read_text())
        # One authlib client for every call to the provider; it never holds a token of its own (the customer's
        # tokens at the bank are not the gateway's to use), so every GET withholds one.
        self._http = AsyncOAuth2Client(
            client_id=settings.bank_idp_client_id,
            # authlib signs the assertion with a joserfc key object (RSA, EC or OKP by the JWK's kty).
            client_secret=jwk.import_key(private_key) if private_key is not None else settings.bank_idp_client_secret,
            token_endpoint_auth_method=settings.bank_idp_client_auth, redirect_uri=settings.bank_idp_redirect_uri,
            code_challenge_method="S256", transport=transport, timeout=5.0, follow_redirects=False,
        )
        if private_key is not None:
            # RFC 7523 section 3 / FAPI 2.0 SP section 5.3.2.1: the assertion's audience is the provider's issuer.
            self._http.register_client_auth_method(
                _IssuerAudienceKeyJWT(audience=settings.bank_idp_issuer, alg=jose.alg_for(private_key)))

    async def close(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.request("GET", url, headers={"accept": "application/json"},
                                                withhold_token=True)
        except httpx.HTTPError as exc:
            raise BankIdpUnavailable(f"{url}: {exc.__class__.__name__}") from None
        if response.status_code != 200:
            raise BankIdpUnavailable(f"{url}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise BankIdpUnavailable(f"{url}: not JSON") from None
        if not isinstance(body, dict):
            raise BankIdpUnavailable(f"{url}: not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovered metadata (Discovery 1.0 section 4), fetched once."""
        if self._metadata is None:
            issuer = self._settings.bank_idp_issuer.rstrip("/")
            body = await self._get_json(f"{issuer}/.well-known/openid-configuration")
            missing = [name for name in _REQUIRED_METADATA if not isinstance(body.get(name), str)]
            if missing:
                raise BankIdpUnavailable(f"the provider's metadata lacks {', '.join(missing)}")
            if body["issuer"] != self._settings.bank_idp_issuer:
                # Discovery 1.0 section 4.3: the issuer must be identical to the one the metadata was read from.
                raise BankIdpUnavailable(f"the provider's metadata names issuer {body['issuer']!r}, "
                                         f"not {self._settings.bank_idp_issuer!r}")
            self._metadata = body
        return self._metadata

    async def authorization_url(self, *, request: SignInRequest) -> str:
        """The authentication request (Core 1.0 section 3.1.2.1) the customer's browser, or the bank's app, opens."""
        metadata = await self.metadata()
        s = self._settings
        params = {
            "response_type": "code",
            "client_id": s.bank_idp_client_id,
            "redirect_uri": s.bank_idp_redirect_uri,
            "scope": " ".join(s.bank_idp_scopes),
            "state": request.state,
            "nonce": request.nonce,
            "code_challenge": create_s256_code_challenge(request.code_verifier),
            "code_challenge_method": "S256",
        }
        if s.bank_idp_acr_values:
            params["acr_values"] = " ".join(s.bank_idp_acr_values)
        # Core 1.0 section 5.5: the acr as an essential claim among the required values, and how and when the
        # customer authenticated (amr, auth_time), which the gateway records.
        id_token_claims: dict[str, Any] = {"amr": {"essential": True}, "auth_time": {"essential": True}}
        if s.bank_idp_acr_values:
            id_token_claims["acr"] = {"essential": True, "values": list(s.bank_idp_acr_values)}
        params["claims"] = json.dumps({"id_token": id_token_claims}, separators=(",", ":"))
        endpoint = str(metadata["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def check_answer(self, *, response: Mapping[str, str], request: SignInRequest) -> dict[str, Any]:
        """What an authentication response shows of itself, before anything is asked of the provider: it answers
        ``request`` (its ``state``) and comes from this provider (RFC 9207 section 2.4, ``iss``); the provider's
        metadata, or ``BankSignInRefused``."""
        metadata = await self.metadata()
        if not hmac.compare_digest(str(response.get("state", "")).encode(), request.state.encode()):
            raise BankSignInRefused("the bank's answer does not belong to this sign-in")
        issued_by = response.get("iss")
        if issued_by is not None or metadata.get("authorization_response_iss_parameter_supported"):
            if issued_by != metadata["issuer"]:
                # RFC 9207 section 2.4: an answer from another provider (mix-up) is refused.
                raise BankSignInRefused("the answer did not come from the bank's identity provider")
        return metadata

    async def complete(self, *, response: Mapping[str, str], request: SignInRequest) -> BankCustomer:
        """The customer of an authentication response (Core 1.0 section 3.1.2.5/3.1.2.6) that answers
        ``request``; ``BankSignInRefused`` when the provider refused or its answer does not hold."""
        metadata = await self.check_answer(response=response, request=request)
        if response.get("error"):
            description = response.get("error_description") or response["error"]
            raise BankSignInRefused(f"the bank did not sign you in ({description})")
        code = response.get("code")
        if not code:
            raise BankSignInRefused("the bank's answer carries no authorization code")
        token = await self._redeem(metadata, code=code, code_verifier=request.code_verifier)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise BankSignInRefused("the bank's token response carries no ID token")
        claims = await self.verify_id_token(id_token, nonce=request.nonce)
        return self.customer_of(claims)

    async def _redeem(self, metadata: Mapping[str, Any], *, code: str, code_verifier: str) -> dict[str, Any]:
        try:
            token = await self._http.fetch_token(str(metadata["token_endpoint"]), grant_type="authorization_code",
                                                 code=code, code_verifier=code_verifier)
        except httpx.HTTPError as exc:
            raise BankIdpUnavailable(f"token endpoint: {exc.__class__.__name__}") from None
        except AuthlibBaseError as exc:
            # RFC 6749 section 5.2: the provider refused the code (used, expired, wrong verifier, client).
            # The provider's description is for the operator, not the customer: only its error code is shown.
            raise BankSignInRefused(f"the bank did not accept the sign-in ({exc.error})") from None
        finally:
            self._http.token = None
        return dict(token)

    async def _keys(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        if self._jwks is None or refresh:
            metadata = await self.metadata()
            body = await self._get_json(str(metadata["jwks_uri"]))
            keys = body.get("keys")
            if not isinstance(keys, list):
                raise BankIdpUnavailable("the provider's JWKS has no keys")
            self._jwks = [k for k in keys if isinstance(k, dict)]
        return self._jwks

    async def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Core 1.0 section 3.1.3.7: the claims of a valid ID token for this client and this sign-in."""
        s = self._settings
        metadata = await self.metadata()
        try:
            keys = await self._keys()
            try:
                claims = self._verify(id_token, keys=keys, issuer=str(metadata["issuer"]))
            except jose.JoseError as exc:
                if "no matching key" not in str(exc):
                    raise
                claims = self._verify(id_token, keys=await self._keys(refresh=True), issuer=str(metadata["issuer"]))
        except jose.JoseError as exc:
            raise BankSignInRefused(f"the bank's ID token is not valid: {exc}") from None
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audience) > 1 and claims.get("azp") != s.bank_idp_client_id:
            raise BankSignInRefused("the bank's ID token is not valid: azp is not this client")
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
            raise BankSignInRefused("the bank's ID token is not valid: nonce missing or not this sign-in's")
        acr = claims.get("acr")
        if s.bank_idp_acr_values and acr not in s.bank_idp_acr_values:
            raise BankSignInRefused(
                f"the bank signed you in with {acr or 'no stated'} authentication; this needs "
                f"{' or '.join(s.bank_idp_acr_values)}")
        return claims

    def _verify(self, id_token: str, *, keys: list[dict[str, Any]], issuer: str) -> dict[str, Any]:
        return jose.verify_with_jwks(id_token, jwks=keys, audience=self._settings.bank_idp_client_id, issuer=issuer,
                                     require=("iss", "aud", "exp", "iat", "sub"), leeway=self._leeway)

    def customer_of(self, claims: Mapping[str, Any]) -> BankCustomer:
        """The PSU named by the configured claim of verified ID token ``claims``."""
        psu_id = claims.get(self._settings.bank_idp_psu_claim)
        if not isinstance(psu_id, str) or not psu_id or len(psu_id) > 128:
            raise BankSignInRefused(
                f"the bank's ID token does not name the customer ({self._settings.bank_idp_psu_claim})")
        amr = claims.get("amr")
        auth_time = claims.get("auth_time")
        name = claims.get("name")
        return BankCustomer(
            psu_id=psu_id,
            name=name if isinstance(name, str) and name else psu_id,
            acr=str(claims.get("acr") or ""),
            amr=tuple(str(m) for m in amr) if isinstance(amr, list) else (),
            auth_time=auth_time if isinstance(auth_time, int) else None,
        )
