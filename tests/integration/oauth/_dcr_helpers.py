"""Helpers for registration tests: a TPP (keys, SSA, signed registration request), a stand-in host for
``software_jwks_endpoint`` URLs, and sender-constrained access tokens for RFC 7592 calls.

Import the fixtures into a test module (``from tests.integration.oauth._dcr_helpers import sandbox_app``):
``sandbox_app`` is replaced by a small JWKS host, because registration talks to no bank, only to the TPP's
published keys, and the gateway's outbound HTTP client is routed to whatever ``sandbox_app`` is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route

from gateway.security import jose
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash
from tests.conftest import ISSUER
from tests.helpers.ssa import DirectoryKeys
from tests.helpers.ssa import make_directory
from tests.helpers.ssa import make_ssa
from tests.helpers.ssa import make_tpp_key

REDIRECT_URI = "https://tpp.example/callback"
OTHER_REDIRECT_URI = "https://tpp.example/other"
JWKS_HOST = "https://tpp.example"


@dataclass
class JwksHost:
    """Serves JWK Sets at ``https://tpp.example/<name>`` (any host reaches it through the test transport)."""

    documents: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def publish(self, name: str, jwks: dict[str, Any]) -> str:
        self.documents[name] = jwks
        return f"{JWKS_HOST}/{name}"

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            self.hits += 1
            doc = self.documents.get(request.path_params["name"])
            if doc is None:
                return Response(status_code=404)
            return JSONResponse(doc)

        return Starlette(routes=[Route("/{name:path}", serve)])


@pytest.fixture
def jwks_host() -> JwksHost:
    return JwksHost()


@pytest.fixture
async def sandbox_app(jwks_host: JwksHost) -> Starlette:
    return jwks_host.app()


@pytest.fixture
async def db(settings: Settings, gateway_app: Any) -> AsyncIterator[Database]:
    """A second handle on the gateway's database (the app under test owns the first)."""
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
def directory(var_dir: Path) -> DirectoryKeys:
    return make_directory(var_dir)


@dataclass
class Tpp:
    directory: DirectoryKeys
    software_id: str
    key: dict[str, Any]
    roles: list[str]
    redirect_uris: list[str]

    @property
    def public_jwks(self) -> dict[str, Any]:
        return jose.public_jwks([self.key])

    def ssa(self, **kwargs: Any) -> str:
        values: dict[str, Any] = {
            "software_id": self.software_id,
            "redirect_uris": self.redirect_uris,
            "roles": self.roles,
            "jwks": self.public_jwks,
        }
        values.update(kwargs)
        return make_ssa(self.directory, **values)

    def metadata(self, **overrides: Any) -> dict[str, Any]:
        """A valid OBIE registration: private_key_jwt, every grant, scope from the roles."""
        body: dict[str, Any] = {
            "redirect_uris": [self.redirect_uris[0]],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types": ["code"],
            "scope": "openid accounts",
            "application_type": "web",
            "id_token_signed_response_alg": "PS256",
            "request_object_signing_alg": "PS256",
            "software_id": self.software_id,
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    def request_jwt(
        self,
        *,
        ssa: str | None = None,
        key: dict[str, Any] | None = None,
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
        omit: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """The OBIE signed registration request (DCR v3.3), signed with the TPP key unless ``key`` says."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.software_id,
            "aud": ISSUER,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            **self.metadata(),
            "software_statement": ssa if ssa is not None else self.ssa(),
        }
        body.update(claims)
        for name in omit:
            body.pop(name, None)
        # None means "leave the claim out", as in ``metadata``.
        body = {k: v for k, v in body.items() if v is not None}
        return jose.sign(body, key=key or self.key, alg=alg, headers=headers)


def make_tpp(
    directory: DirectoryKeys,
    *,
    roles: list[str] | None = None,
    software_id: str | None = None,
    key: dict[str, Any] | None = None,
) -> Tpp:
    return Tpp(
        directory=directory,
        software_id=software_id or uuid.uuid4().hex[:22],
        key=key or make_tpp_key(),
        roles=roles or ["AISP"],
        redirect_uris=[REDIRECT_URI, OTHER_REDIRECT_URI],
    )


async def register_signed(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/register", content=token, headers={"Content-Type": "application/jose"})


async def register_json(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/register", json=body)


# --------------------------------------------------------------------------- access tokens (RFC 7592 calls)


@dataclass(frozen=True)
class BoundToken:
    """A DPoP-bound access token (RFC 9449) inserted as the token endpoint would store it."""

    value: str
    dpop_key: dict[str, Any]

    def headers(self, method: str, path: str) -> dict[str, str]:
        proof = jose.sign(
            {
                "jti": jose.new_jti(),
                "htm": method,
                "htu": ISSUER + path,
                "iat": int(time.time()),
                "ath": jose.sha256_b64url(self.value),
            },
            key=self.dpop_key,
            headers={"typ": "dpop+jwt", "jwk": jose.public_jwk(self.dpop_key)},
        )
        return {"Authorization": f"DPoP {self.value}", "DPoP": proof}


async def insert_access_token(
    db: Database,
    *,
    client_id: str,
    grant_type: str = "client_credentials",
    scope: str = "accounts",
    kind: str = "access",
    lifetime: int = 300,
) -> BoundToken:
    dpop_key = make_tpp_key()
    value = new_secret()
    now = utcnow()
    token = Token(
        token_hash=secret_hash(value),
        kind=kind,
        grant_id=uuid.uuid4().hex,
        grant_type=grant_type,
        client_id=client_id,
        scope=scope,
        jkt=jose.thumbprint(dpop_key),
        issued_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    async with db.session() as session:
        session.add(token)
        await session.commit()
    return BoundToken(value=value, dpop_key=dpop_key)


async def token_row(db: Database, value: str) -> Token | None:
    async with db.session() as session:
        return await session.get(Token, secret_hash(value))
