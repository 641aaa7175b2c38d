"""Line 6 of docs/performance.md: the token endpoint (``client_credentials``, ``private_key_jwt`` client
authentication, DPoP-bound token) of obgw beside node-oidc-provider configured for the same grant.

node-oidc-provider (npm ``oidc-provider``) is installed at bench time into a cache directory outside the
repository (``$XDG_CACHE_HOME/obgw/bench-node``), never committed; without node or npm the token lines are
skipped with a note. Both servers get the same pre-signed requests: a fresh client assertion (ES256, ``aud`` the
issuer, unique ``jti``) and a fresh DPoP proof (``htm`` POST, ``htu`` the token endpoint, unique ``jti``) each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from gateway.security import jose
from gateway.settings import Settings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PACKAGE = "oidc-provider@9"
SCOPE = "accounts"

SERVER_JS = r"""
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, clientFile] = process.argv.slice(2);
const client = JSON.parse(readFileSync(clientFile, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: client.client_id,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'accounts',
    jwks: client.jwks,
  }],
  clientAuthMethods: ['private_key_jwt'],
  scopes: ['accounts'],
  enabledJWA: { clientAuthSigningAlgValues: ['ES256'], dPoPSigningAlgValues: ['ES256'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
  },
});
provider.listen(Number(port), '127.0.0.1');
"""


@dataclass(frozen=True, kw_only=True)
class TokenClient:
    client_id: str
    signing_key: dict[str, Any]
    dpop_key: dict[str, Any]


def new_client() -> TokenClient:
    return TokenClient(client_id=f"bench-cc-{uuid.uuid4().hex[:8]}", signing_key=jose.generate_key(alg="ES256"),
                       dpop_key=jose.generate_key(alg="ES256"))


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "obgw" / "bench-node"


def install_reference() -> Path | str:
    """The directory holding node-oidc-provider and the server script, or why it is not available."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node and npm are not installed"
    directory = cache_dir()
    if not (directory / "node_modules" / "oidc-provider" / "package.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(directory), "--no-audit", "--no-fund",
                               "--loglevel=error", PACKAGE], capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            return f"npm install {PACKAGE} failed: {done.stderr.strip()[-300:]}"
    (directory / "server.mjs").write_text(SERVER_JS)
    return directory


def reference_command(*, directory: Path, port: int, client_file: Path) -> list[str]:
    return [shutil.which("node") or "node", str(directory / "server.mjs"), str(port), str(client_file)]


def client_file(*, client: TokenClient, path: Path) -> Path:
    path.write_text(json.dumps({"client_id": client.client_id,
                                "jwks": jose.public_jwks([client.signing_key])}))
    return path


async def seed_client(*, settings: Settings, client: TokenClient) -> None:
    """The same client registered at obgw: private_key_jwt, client_credentials, scope accounts."""
    from gateway.store.db import Database
    from gateway.store.oauth_tables import Client

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            session.add(Client(client_id=client.client_id, software_id=f"software-{client.client_id}",
                               client_name="bench token", token_endpoint_auth_method="private_key_jwt",
                               redirect_uris=["https://bench.invalid/cb"], grant_types=["client_credentials"],
                               scope=SCOPE, software_roles=["AISP"], jwks=jose.public_jwks([client.signing_key]),
                               registration={"token_endpoint_auth_signing_alg": "ES256"}))
            await session.commit()
    finally:
        await db.dispose()


def token_requests(*, client: TokenClient, issuer: str, token_url: str, count: int) -> list[dict[str, str]]:
    """``count`` token requests, each with a fresh client assertion and a fresh DPoP proof."""
    now = int(time.time())
    dpop_key = {k: v for k, v in client.dpop_key.items() if k != "kid"}
    dpop_header = {"typ": "dpop+jwt", "jwk": jose.public_jwk(client.dpop_key)}
    signed = []
    for _ in range(count):
        assertion = jose.sign({"iss": client.client_id, "sub": client.client_id, "aud": issuer, "iat": now,
                               "exp": now + 60, "jti": str(uuid.uuid4())}, key=client.signing_key)
        proof = jose.sign({"jti": str(uuid.uuid4()), "htm": "POST", "htu": token_url, "iat": now}, key=dpop_key,
                          headers=dpop_header)
        body = urlencode({"grant_type": "client_credentials", "scope": SCOPE,
                          "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
        signed.append({":method": "POST", ":body": body, "content-type": "application/x-www-form-urlencoded",
                       "dpop": proof})
    return signed
