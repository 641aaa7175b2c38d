"""A test-side FAPI 2.0 client: PKCE pairs, private_key_jwt assertions (RFC 7523), DPoP proofs (RFC 9449),
signed request objects (RFC 9101), client rows, and the browser walk through the bank's pages.

Everything a TPP would do, built independently of the gateway's own code paths where it matters (the
assertions and proofs are signed with the shared JOSE module, but the claims are written out here).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.security import jose
from gateway.store.oauth_tables import Client

ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "https://tpp.example.com/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"content-type": "application/x-www-form-urlencoded"}
# The sandbox bank's documented test customer (sandbox.customers).
PSU_USERNAME = "alice"
PSU_PASSWORD = "alice-wonderland"


@dataclass(frozen=True)
class FromNow:
    """A time claim relative to the moment the JWT is signed (parametrize tables are built at collection
    time, long before a test runs)."""

    seconds: int


def from_now(seconds: int) -> FromNow:
    return FromNow(seconds)


def resolve_times(overrides: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in overrides.items()}


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 section 4.1-4.2: (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def hidden_field(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    return match.group(1)


@dataclass
class FapiClient:
    client_id: str
    key: dict[str, Any]
    redirect_uri: str = REDIRECT_URI
    issuer: str = ISSUER
    dpop_key: dict[str, Any] = field(default_factory=lambda: jose.generate_key(alg="ES256"))

    # ------------------------------------------------------------------ client authentication

    def assertion(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_id, "sub": self.client_id, "aud": self.issuer,
            "jti": str(uuid.uuid4()), "iat": now, "exp": now + 60,
        }
        claims.update(resolve_times(overrides))
        return jose.sign(claims, key=self.key)

    def auth(self, **overrides: Any) -> dict[str, str]:
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(**overrides)}

    # ------------------------------------------------------------------ DPoP

    def dpop(self, method: str, path: str, *, access_token: str | None = None, key: dict[str, Any] | None = None,
             **overrides: Any) -> str:
        signer = key or self.dpop_key
        claims: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method, "htu": self.issuer + path,
                                  "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = jose.sha256_b64url(access_token)
        claims.update(resolve_times(overrides))
        headers = {"typ": "dpop+jwt", "jwk": jose.public_jwk(signer)}
        return jose.sign(claims, key={k: v for k, v in signer.items() if k != "kid"}, headers=headers)

    @property
    def jkt(self) -> str:
        return jose.thumbprint(jose.public_jwk(self.dpop_key))

    # ------------------------------------------------------------------ authorization requests

    def authorization_params(self, *, challenge: str, scope: str = "openid", **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": scope, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge, "code_challenge_method": "S256",
        }
        params.update(extra)
        return {k: v for k, v in params.items() if v is not None}

    def request_object(self, params: dict[str, Any], *, key: dict[str, Any] | None = None,
                       headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.client_id, "aud": self.issuer, "nbf": now, "exp": now + 300,
                                  "iat": now, "jti": str(uuid.uuid4()), **params}
        claims.update(overrides)
        return jose.sign(claims, key=key or self.key, headers={"typ": "oauth-authz-req+jwt", **(headers or {})})

    # ------------------------------------------------------------------ endpoint calls

    async def push(self, http: httpx.AsyncClient, params: dict[str, Any], *, dpop: bool = True,
                   auth: dict[str, str] | None = None) -> httpx.Response:
        headers = dict(FORM)
        if dpop:
            headers["DPoP"] = self.dpop("POST", "/par")
        data = {k: str(v) for k, v in params.items()}
        return await http.post("/par", data={**data, **(self.auth() if auth is None else auth)}, headers=headers)

    async def token(self, http: httpx.AsyncClient, form: dict[str, str], *, dpop: bool = True,
                    dpop_key: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(FORM)
        if dpop:
            sent["DPoP"] = self.dpop("POST", "/token", key=dpop_key)
        sent.update(headers or {})
        return await http.post("/token", data={**form, **self.auth()}, headers=sent)


async def insert_client(
    db: Any,
    *,
    client_id: str | None = None,
    scope: str = "openid accounts payments",
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials"),
    client_name: str = "Example Budgeting App",
    key: dict[str, Any] | None = None,
    method: str = "private_key_jwt",
    tls_client_auth_subject_dn: str | None = None,
) -> FapiClient:
    """A registered client, inserted directly (the way a test bypasses dynamic registration)."""
    signing_key = key or jose.generate_key(alg="ES256")
    cid = client_id or f"client-{uuid.uuid4().hex[:12]}"
    async with db.session() as session:
        session.add(Client(
            client_id=cid, software_id=f"software-{cid}", client_name=client_name,
            token_endpoint_auth_method=method, tls_client_auth_subject_dn=tls_client_auth_subject_dn,
            redirect_uris=list(redirect_uris), grant_types=list(grant_types), scope=scope,
            software_roles=["AISP", "PISP"], jwks=jose.public_jwks([signing_key]),
        ))
        await session.commit()
    return FapiClient(client_id=cid, key=signing_key, redirect_uri=redirect_uris[0] if redirect_uris else REDIRECT_URI)


async def sign_in(
    http: httpx.AsyncClient, fapi: FapiClient, request_uri: str, page: httpx.Response, *,
    username: str = PSU_USERNAME, password: str = PSU_PASSWORD,
) -> httpx.Response:
    """The customer submits the sign-in form of ``page`` (the /authorize page) with its CSRF token."""
    return await http.post("/login", data={
        "csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "username": username, "password": password,
    })


async def sign_in_and_decide(
    http: httpx.AsyncClient,
    fapi: FapiClient,
    request_uri: str,
    *,
    username: str = PSU_USERNAME,
    password: str = PSU_PASSWORD,
    decision: str = "approve",
    account_ids: list[str] | None = None,
) -> httpx.Response:
    """The customer's browser: open /authorize, sign in, tick accounts (the first offered one unless
    ``account_ids`` says), press Approve or Deny. Returns the final 303."""
    page = await http.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})
    assert page.status_code == 200, page.text
    if 'action="/login"' in page.text:
        signed_in = await sign_in(http, fapi, request_uri, page, username=username, password=password)
        assert signed_in.status_code == 303, signed_in.text
        page = await http.get(signed_in.headers["location"])
        assert page.status_code == 200, page.text
    offered = re.findall(r'name="account_id" value="([^"]+)"', page.text)
    chosen = offered[:1] if account_ids is None else account_ids
    form: list[tuple[str, str]] = [
        ("csrf", hidden_field(page.text, "csrf")), ("client_id", fapi.client_id), ("request_uri", request_uri),
        ("decision", decision), *(("account_id", a) for a in chosen),
    ]
    return await http.post("/authorize/decision", content=urlencode(form),
                           headers={"content-type": "application/x-www-form-urlencoded"})


async def authorization_code(http: httpx.AsyncClient, fapi: FapiClient, *, scope: str = "openid",
                             dpop: bool = True, **extra: Any) -> tuple[str, str, dict[str, str]]:
    """PAR (DPoP-bound unless ``dpop=False``) + browser approval: (code, code_verifier, the redirect's query)."""
    verifier, challenge = pkce_pair()
    pushed = await fapi.push(http, fapi.authorization_params(challenge=challenge, scope=scope, **extra), dpop=dpop)
    assert pushed.status_code == 201, pushed.text
    final = await sign_in_and_decide(http, fapi, pushed.json()["request_uri"])
    assert final.status_code == 303, final.text
    query = query_of(final.headers["location"])
    return query["code"], verifier, query


async def tokens_for(http: httpx.AsyncClient, fapi: FapiClient, *, scope: str = "openid",
                     **extra: Any) -> dict[str, Any]:
    """A full code flow ending in a DPoP-bound token response."""
    code, verifier, _ = await authorization_code(http, fapi, scope=scope, **extra)
    response = await fapi.token(http, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(name="db")
async def db_fixture(settings: Any, gateway_app: Any) -> AsyncIterator[Any]:
    """A second handle on the gateway's database (the app under test owns the first)."""
    from gateway.store.db import Database

    database = Database(settings.database_url)
    yield database
    await database.dispose()


def self_signed_certificate(common_name: str = "tpp.example.com") -> tuple[str, str]:
    """A client certificate as the TLS terminator forwards it (RFC 9440 ``:base64-DER:``) and its subject DN."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(Encoding.DER)
    return ":" + base64.b64encode(der).decode() + ":", cert.subject.rfc4514_string()
