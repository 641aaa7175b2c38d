"""The sandbox software-statement directory: its signing key, the SSAs it issues and the JWKS it publishes.

Mirrors the Open Banking Directory (docs/obie-notes.md section 8, "SSA issued by the OB Directory"): a software statement
is a JWT with header ``typ: JWT``, ``alg: PS256``, ``kid``, and the OBIE ``software_*`` / ``org_*`` claims.
``software_jwks_endpoint`` points at this sandbox; the inline ``software_jwks`` lets registration work offline.

The signing key is created on first use at ``{var_dir}/sandbox/directory-keys.json`` (mode 0600, never
served) with its public JWKS beside it in ``directory-jwks.json``, which the gateway trusts in sandbox mode.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from jwcrypto import jwk as jwcrypto_jwk
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox.errors import NotFound
from sandbox.files import write_new_file
from sandbox.models import SoftwareApp
from sandbox.services import services
from sandbox.settings import SandboxSettings

SIGNING_ALG = "PS256"
# RFC 7518 section 6: the members that make a JWK private (RSA, EC/OKP ``d``, symmetric ``k``).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
ROLES = ("AISP", "PISP", "CBPII")


def public_jwk(key: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k not in PRIVATE_MEMBERS}


def is_private(key: Mapping[str, Any]) -> bool:
    return any(member in key for member in PRIVATE_MEMBERS)


def generate_signing_key(*, alg: str = SIGNING_ALG) -> dict[str, Any]:
    """A new private JWK (RSA 2048 for PS256, P-256 for ES256) with ``kid`` = RFC 7638 thumbprint."""
    if alg == "PS256":
        key = jwcrypto_jwk.JWK.generate(kty="RSA", size=2048)
    elif alg == "ES256":
        key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    else:
        raise ValueError(f"unsupported algorithm {alg}")
    out: dict[str, Any] = json.loads(key.export_private())
    out["kid"] = key.thumbprint()
    out["alg"] = alg
    out["use"] = "sig"
    return out


class Directory:
    def __init__(self, *, settings: SandboxSettings) -> None:
        self._settings = settings
        self._keys: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @property
    def software_base_url(self) -> str:
        return f"{self._settings.public_url}/directory/software"

    def signing_keys(self) -> list[dict[str, Any]]:
        """Load the directory keys, creating the first one (and the public JWKS file) if there is none."""
        with self._lock:
            if self._keys is None:
                path = self._settings.directory_keys_file
                if not path.exists():
                    write_new_file(path, json.dumps({"keys": [generate_signing_key()]}, indent=1).encode(), mode=0o600)
                keys = json.loads(path.read_text())["keys"]
                if not keys:
                    raise RuntimeError(f"{path} holds no keys")
                self._keys = list(keys)
                self._settings.directory_jwks_file.write_text(json.dumps(self.public_jwks_of(self._keys), indent=1))
            return self._keys

    @staticmethod
    def public_jwks_of(keys: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [public_jwk(k) for k in keys]}

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        return self.public_jwks_of(self.signing_keys())

    def software_jwks_endpoint(self, software_id: str) -> str:
        return f"{self.software_base_url}/{software_id}/jwks"

    def issue_software_statement(self, *, app: SoftwareApp, now: int | None = None) -> str:
        """A signed SSA for ``app`` (docs/obie-notes.md section 8 claim set; ``software_mode`` Test: this is a sandbox)."""
        key = self.signing_keys()[-1]
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self._settings.directory_issuer,
            "iat": issued,
            "jti": str(uuid.uuid4()),
            "software_id": app.software_id,
            "software_client_id": app.software_id,
            "software_client_name": app.client_name,
            "software_client_description": app.description,
            "software_version": app.version,
            "software_environment": "sandbox",
            "software_mode": "Test",
            "software_redirect_uris": list(app.redirect_uris),
            "software_roles": list(app.roles),
            "software_jwks_endpoint": self.software_jwks_endpoint(app.software_id),
            "software_jwks": {"keys": [public_jwk(k) for k in app.jwks.get("keys", [])]},
            "org_id": app.org_id,
            "org_name": app.org_name,
            "org_status": "Active",
            "organisation_competent_authority_claims": {
                "authority_id": "FCAGBR",
                "registration_id": app.org_id,
                "status": "Active",
                "authorisations": [{"member_state": "GB", "roles": list(app.roles)}],
            },
        }
        signer = jwt.PyJWK(key)
        return jwt.encode(
            claims, signer.key, algorithm=SIGNING_ALG, headers={"typ": "JWT", "kid": key["kid"]}
        )


async def directory_jwks(request: Request) -> JSONResponse:
    return JSONResponse(services(request).directory.public_jwks())


async def software_jwks(request: Request) -> JSONResponse:
    svc = services(request)
    async with svc.db.session() as session:
        app = await session.get(SoftwareApp, request.path_params["software_id"])
    if app is None:
        raise NotFound("no such software")
    # Stored keys are public already; filter again so a private member can never be served.
    return JSONResponse({"keys": [public_jwk(k) for k in app.jwks.get("keys", [])]})


def routes() -> list[BaseRoute]:
    return [
        Route("/directory/jwks", directory_jwks, methods=["GET"]),
        Route("/directory/software/{software_id}/jwks", software_jwks, methods=["GET"]),
    ]
