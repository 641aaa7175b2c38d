"""Partner apps in the sandbox directory: validate a request, make keys if asked, store the public parts, issue the SSA.

One implementation behind the portal's HTML form, its JSON API and the CLI (docs/architecture.md section 1, journey 1).
Rules checked here, each failing with ``InvalidRequest`` naming the field and the rule:

* ``redirect_uris``: absolute ``http``/``https`` URLs without a fragment (RFC 6749 section 3.1.2);
* ``roles``: AISP, PISP, CBPII (docs/obie-notes.md section 8, ``software_roles``);
* ``token_endpoint_auth_method``: ``private_key_jwt`` or ``tls_client_auth``, the two FAPI-compliant methods
  (docs/obie-notes.md section 8);
* ``jwks``: public keys only (RFC 7517 section 9.2: a pasted private key is refused, not silently trimmed),
  each with a ``kid``, RSA >= 2048 bits or P-256, at least one usable for signing.

A generated private key (and, for ``tls_client_auth``, the client certificate's key) is returned once and never
stored: the row keeps only the public JWKS and the certificate.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jwcrypto import jwk as jwcrypto_jwk

from sandbox.ca import SandboxCa
from sandbox.db import SandboxDatabase
from sandbox.directory import ROLES
from sandbox.directory import Directory
from sandbox.directory import generate_signing_key
from sandbox.directory import is_private
from sandbox.directory import public_jwk
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.models import SoftwareApp

AUTH_METHODS = ("private_key_jwt", "tls_client_auth")
MAX_REDIRECT_URIS = 20
MAX_KEYS = 10
_BASE62 = string.ascii_letters + string.digits


@dataclass(frozen=True, kw_only=True)
class AppRequest:
    name: str
    redirect_uris: tuple[str, ...]
    roles: tuple[str, ...]
    token_endpoint_auth_method: str = "private_key_jwt"
    jwks: dict[str, Any] | None = None
    org_name: str = ""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class CreatedApp:
    app: SoftwareApp
    software_statement: str
    private_jwk: dict[str, Any] | None = None
    client_certificate_pem: str | None = None
    client_key_pem: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The creation answer: the public view plus the private parts this one time."""
        body = describe(self.app, software_statement=self.software_statement)
        if self.private_jwk is not None:
            body["private_jwk"] = self.private_jwk
        if self.client_key_pem is not None:
            body["client_key_pem"] = self.client_key_pem
        return body


def base62_id(length: int) -> str:
    """Open Banking Directory identifiers are Base62 (software_id <= 22 chars, org_id <= 18)."""
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def describe(app: SoftwareApp, *, software_statement: str) -> dict[str, Any]:
    """The public view of an app (no private key material can appear: none is stored)."""
    body: dict[str, Any] = {
        "software_id": app.software_id,
        "org_id": app.org_id,
        "org_name": app.org_name,
        "name": app.client_name,
        "redirect_uris": list(app.redirect_uris),
        "roles": list(app.roles),
        "token_endpoint_auth_method": app.token_endpoint_auth_method,
        "jwks": {"keys": [public_jwk(k) for k in app.jwks.get("keys", [])]},
        "software_statement": software_statement,
        "created_at": app.created_at.isoformat(),
    }
    if app.tls_client_auth_subject_dn:
        body["tls_client_auth_subject_dn"] = app.tls_client_auth_subject_dn
    if app.client_certificate_pem:
        body["client_certificate_pem"] = app.client_certificate_pem
    return body


# --------------------------------------------------------------------------- validation


def _text(data: Mapping[str, Any], field: str, *, required: bool, max_length: int) -> str:
    value = data.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string", field=field, rule="type:string")
    value = value.strip()
    if required and not value:
        raise InvalidRequest(f"{field} is required", field=field, rule="required")
    if len(value) > max_length:
        raise InvalidRequest(f"{field} is longer than {max_length}", field=field, rule=f"max_length:{max_length}")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidRequest(f"{field} holds control characters", field=field, rule="printable")
    return value


def _string_list(data: Mapping[str, Any], field: str) -> list[str]:
    value = data.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{field} must be a list of strings", field=field, rule="type:list[string]")
    items = [v.strip() for v in value if v.strip()]
    if not items:
        raise InvalidRequest(f"{field} needs at least one entry", field=field, rule="required")
    return list(dict.fromkeys(items))


def check_redirect_uri(uri: str) -> None:
    """RFC 6749 section 3.1.2: absolute, no fragment; http or https only."""
    rule = "absolute_http_url"
    if len(uri) > 2048 or any(ord(ch) <= 32 for ch in uri):
        raise InvalidRequest(f"redirect URI {uri[:80]!r} is not a valid URL", field="redirect_uris", rule=rule)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidRequest(f"redirect URI {uri[:80]!r} is not a valid URL", field="redirect_uris", rule=rule) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"redirect URI {uri[:80]!r} must be an absolute http(s) URL", field="redirect_uris", rule=rule
        )
    if parts.fragment or uri.endswith("#"):
        raise InvalidRequest(
            f"redirect URI {uri[:80]!r} must not have a fragment", field="redirect_uris", rule="no_fragment"
        )
    if parts.username or parts.password:
        raise InvalidRequest(
            f"redirect URI {uri[:80]!r} must not carry credentials", field="redirect_uris", rule="no_userinfo"
        )


def check_public_jwks(jwks: Any) -> dict[str, Any]:
    field = "jwks"
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise InvalidRequest('jwks must be {"keys": [...]} with at least one key', field=field, rule="jwk_set")
    if len(jwks["keys"]) > MAX_KEYS:
        raise InvalidRequest(f"jwks holds more than {MAX_KEYS} keys", field=field, rule=f"max_keys:{MAX_KEYS}")
    keys: list[dict[str, Any]] = []
    kids: set[str] = set()
    for key in jwks["keys"]:
        if not isinstance(key, dict):
            raise InvalidRequest("every key must be a JSON object", field=field, rule="jwk")
        if is_private(key):
            # Never accept (and so never store) a private key, even by mistake.
            raise InvalidRequest("jwks must hold public keys only", field=field, rule="public_only")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid or kid in kids:
            raise InvalidRequest("every key needs a distinct kid", field=field, rule="kid_required")
        kids.add(kid)
        try:
            parsed = jwcrypto_jwk.JWK(**key)
        except Exception as exc:  # jwcrypto raises several types for bad keys
            raise InvalidRequest(f"key {kid!r} is not a valid JWK", field=field, rule="jwk") from exc
        kty = key.get("kty")
        if kty == "RSA":
            modulus = int.from_bytes(jwcrypto_jwk.base64url_decode(key["n"]), "big")
            if modulus.bit_length() < 2048:
                raise InvalidRequest(f"key {kid!r}: RSA keys need 2048 bits", field=field, rule="rsa_min_2048")
        elif not (kty == "EC" and key.get("crv") == "P-256"):
            # FAPI 2.0 Security Profile section 5.4: PS256 (RSA) or ES256 (P-256).
            raise InvalidRequest(f"key {kid!r}: only RSA or EC P-256 keys", field=field, rule="kty")
        if parsed.has_private:
            raise InvalidRequest("jwks must hold public keys only", field=field, rule="public_only")
        keys.append(dict(key))
    if not any(k.get("use", "sig") == "sig" for k in keys):
        raise InvalidRequest("jwks needs a signing key (use sig)", field=field, rule="signing_key")
    return {"keys": keys}


def parse_app_request(data: Any) -> AppRequest:
    """Turn untrusted JSON (or form fields shaped like it) into an ``AppRequest``, or raise ``InvalidRequest``."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("body must be a JSON object", rule="object")
    name = _text(data, "name", required=True, max_length=255)
    redirect_uris = _string_list(data, "redirect_uris")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidRequest(
            f"at most {MAX_REDIRECT_URIS} redirect URIs", field="redirect_uris", rule=f"max_items:{MAX_REDIRECT_URIS}"
        )
    for uri in redirect_uris:
        check_redirect_uri(uri)
    roles = _string_list(data, "roles")
    for role in roles:
        if role not in ROLES:
            raise InvalidRequest(f"unknown role {role[:20]!r}", field="roles", rule="enum:AISP,PISP,CBPII")
    method = data.get("token_endpoint_auth_method") or "private_key_jwt"
    if method not in AUTH_METHODS:
        raise InvalidRequest(
            "token_endpoint_auth_method must be private_key_jwt or tls_client_auth",
            field="token_endpoint_auth_method",
            rule="enum:private_key_jwt,tls_client_auth",
        )
    jwks = data.get("jwks")
    return AppRequest(
        name=name,
        redirect_uris=tuple(redirect_uris),
        roles=tuple(r for r in ROLES if r in roles),
        token_endpoint_auth_method=str(method),
        jwks=None if jwks in (None, "") else check_public_jwks(jwks),
        org_name=_text(data, "org_name", required=False, max_length=255),
        description=_text(data, "description", required=False, max_length=1024),
    )


def parse_jwks_text(text: str) -> dict[str, Any]:
    """A pasted JWKS (form field or file); the JSON must parse, then ``check_public_jwks`` applies."""
    try:
        return check_public_jwks(json.loads(text))
    except ValueError as exc:
        if isinstance(exc, InvalidRequest):
            raise
        raise InvalidRequest("jwks is not valid JSON", field="jwks", rule="json") from exc


# --------------------------------------------------------------------------- creation


async def create_software(
    *, db: SandboxDatabase, directory: Directory, ca: SandboxCa, request: AppRequest
) -> CreatedApp:
    software_id = base62_id(22)
    org_id = base62_id(18)
    private_jwk: dict[str, Any] | None = None
    if request.jwks is None:
        private_jwk = generate_signing_key()
        jwks = {"keys": [public_jwk(private_jwk)]}
    else:
        jwks = {"keys": [public_jwk(k) for k in request.jwks["keys"]]}
    certificate = None
    if request.token_endpoint_auth_method == "tls_client_auth":
        certificate = ca.issue_client_certificate(software_id=software_id, org_id=org_id)
    app = SoftwareApp(
        software_id=software_id,
        org_id=org_id,
        org_name=request.org_name or f"{request.name} (sandbox organisation)",
        client_name=request.name,
        description=request.description or f"{request.name}, registered in the obgw sandbox",
        redirect_uris=list(request.redirect_uris),
        roles=list(request.roles),
        token_endpoint_auth_method=request.token_endpoint_auth_method,
        jwks=jwks,
        tls_client_auth_subject_dn=certificate.subject_dn if certificate else None,
        client_certificate_pem=certificate.certificate_pem if certificate else None,
    )
    async with db.session() as session:
        session.add(app)
        await session.commit()
    return CreatedApp(
        app=app,
        software_statement=directory.issue_software_statement(app=app),
        private_jwk=private_jwk,
        client_certificate_pem=certificate.certificate_pem if certificate else None,
        client_key_pem=certificate.private_key_pem if certificate else None,
    )


async def get_software(*, db: SandboxDatabase, software_id: str) -> SoftwareApp:
    async with db.session() as session:
        app = await session.get(SoftwareApp, software_id)
    if app is None:
        raise NotFound("no such software")
    return app
