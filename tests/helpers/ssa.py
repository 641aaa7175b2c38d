"""Test-only software-statement issuer: a directory key whose public JWKS sits where the sandbox directory
writes it (``{var_dir}/sandbox/directory-jwks.json``), and SSAs (OBIE Directory claims) signed with it."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.security import jose

DIRECTORY_JWKS = Path("sandbox") / "directory-jwks.json"


@dataclass(frozen=True)
class DirectoryKeys:
    key: dict[str, Any]  # private JWK the directory signs with
    jwks_path: Path

    @property
    def kid(self) -> str:
        return str(self.key["kid"])


def make_directory(var_dir: Path, *, alg: str = "ES256", extra_keys: int = 0) -> DirectoryKeys:
    """A new directory key; its public JWKS (plus any keys already there) is written for the gateway."""
    key = jose.generate_key(alg=alg)
    path = var_dir / DIRECTORY_JWKS
    path.parent.mkdir(parents=True, exist_ok=True)
    existing: list[dict[str, Any]] = []
    if path.exists():
        existing = list(json.loads(path.read_text())["keys"])
    path.write_text(json.dumps(jose.public_jwks([*existing, key])))
    return DirectoryKeys(key=key, jwks_path=path)


def make_tpp_key(*, alg: str = "ES256") -> dict[str, Any]:
    """A private signing key for a test TPP (ES256 by default: RSA generation is slow)."""
    return jose.generate_key(alg=alg)


def make_ssa(
    directory: DirectoryKeys,
    *,
    software_id: str,
    redirect_uris: list[str],
    roles: list[str],
    jwks: dict[str, Any] | None = None,
    jwks_endpoint: str | None = None,
    org_id: str = "0015800001041REAAY",
    org_status: str | None = "Active",
    lifetime: int | None = 600,
    iat: int | None = None,
    key: dict[str, Any] | None = None,
    alg: str | None = None,
    headers: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    """An SSA signed by ``directory`` (or by ``key`` to forge one). ``jwks`` is the TPP's public JWKS
    (``software_jwks``); ``jwks_endpoint`` becomes ``software_jwks_endpoint``."""
    now = int(time.time()) if iat is None else iat
    claims: dict[str, Any] = {
        "iss": "OpenBanking Ltd",
        "iat": now,
        "jti": str(uuid.uuid4()),
        "software_id": software_id,
        "software_client_id": software_id,
        "software_client_name": f"Test app {software_id}",
        "software_mode": "Test",
        "software_redirect_uris": list(redirect_uris),
        "software_roles": list(roles),
        "org_id": org_id,
        "org_name": "Test TPP Ltd",
    }
    if lifetime is not None:
        claims["exp"] = now + lifetime
    if org_status is not None:
        claims["org_status"] = org_status
    if jwks is not None:
        claims["software_jwks"] = jose.public_jwks(jwks["keys"])
    if jwks_endpoint is not None:
        claims["software_jwks_endpoint"] = jwks_endpoint
    claims.update(extra)
    signer = key or directory.key
    return jose.sign(claims, key=signer, alg=alg, headers={"typ": "JWT", **(headers or {})})
