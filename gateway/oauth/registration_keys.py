"""The keys a registration names (RFC 7591 section 2 ``jwks`` / ``jwks_uri``; OBIE DCR v3.3 ``software_jwks``
/ ``software_jwks_endpoint`` of the software statement): where the TPP's public signing keys live, fetched when
only a URL is given, and the rule that a client registers the statement's keys, not others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.errors import InvalidClientMetadata
from gateway.errors import InvalidSoftwareStatement
from gateway.security import jose
from gateway.services import Services
from gateway.settings import Settings

MAX_JWKS_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientKeys:
    """Where a client's public signing keys live (inline JWKS and/or a JWKS URL)."""

    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


def _public_signing_keys(jwks: Any) -> list[dict[str, Any]]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWKS")
    return [
        jose.public_jwk(k)
        for k in jwks["keys"]
        if isinstance(k, dict) and k.get("use", "sig") == "sig" and not jose.is_private(k)
    ]


def _check_url(uri: str, *, settings: Settings, name: str) -> None:
    https = uri.startswith("https://")
    # Plain http only in sandbox mode (local TPP tooling); production fetches keys over TLS only.
    if not https and not (settings.is_sandbox and uri.startswith("http://")):
        raise InvalidClientMetadata(f"{name} must be an https URL")


async def _fetch_jwks(uri: str, *, services: Services) -> list[dict[str, Any]]:
    try:
        response = await services.http.get(uri, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise InvalidSoftwareStatement("software_jwks_endpoint could not be fetched") from exc
    if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
        raise InvalidSoftwareStatement("software_jwks_endpoint did not return a JWKS")
    try:
        return _public_signing_keys(response.json())
    except ValueError as exc:
        raise InvalidSoftwareStatement("software_jwks_endpoint did not return a JWKS") from exc


def ssa_keys_location(ssa: Mapping[str, Any], *, settings: Settings) -> ClientKeys:
    """The TPP's keys as the software statement names them: inline ``software_jwks``, a
    ``software_jwks_endpoint``, both, or neither."""
    jwks: dict[str, Any] | None = None
    if "software_jwks" in ssa:
        try:
            jwks = {"keys": _public_signing_keys(ssa["software_jwks"])}
        except ValueError as exc:
            raise InvalidSoftwareStatement("software_jwks is not a JWKS") from exc
    endpoint = ssa.get("software_jwks_endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise InvalidSoftwareStatement("software_jwks_endpoint is not a URL")
        try:
            _check_url(endpoint, settings=settings, name="software_jwks_endpoint")
        except InvalidClientMetadata as exc:
            raise InvalidSoftwareStatement(exc.message) from exc
    return ClientKeys(jwks=jwks, jwks_uri=endpoint)


async def keys_of(location: ClientKeys, *, services: Services) -> list[dict[str, Any]]:
    # Inline keys first: no network call, and they are exactly what the directory signed.
    if location.jwks is not None:
        return list(location.jwks["keys"])
    if location.jwks_uri is not None:
        return await _fetch_jwks(location.jwks_uri, services=services)
    return []


def client_keys(metadata: Mapping[str, Any], ssa_keys: ClientKeys, *, settings: Settings) -> ClientKeys:
    """The keys to register (one location, or none). When the software statement names the TPP's keys,
    those are the client's keys: a client may repeat them but not bring others, or anyone holding a copy of
    the statement could register keys of their own for someone else's software."""
    has_jwks, has_uri = "jwks" in metadata, "jwks_uri" in metadata
    if has_jwks and has_uri:
        raise InvalidClientMetadata("jwks and jwks_uri must not both be present")  # RFC 7591 section 2
    body = ClientKeys()
    if has_jwks:
        try:
            body = ClientKeys(jwks={"keys": _public_signing_keys(metadata["jwks"])})
        except ValueError as exc:
            raise InvalidClientMetadata("jwks is not a JWK Set") from exc
        if not body.jwks or not body.jwks["keys"]:
            raise InvalidClientMetadata("jwks holds no public signing key")
    elif has_uri:
        uri = metadata["jwks_uri"]
        if not isinstance(uri, str):
            raise InvalidClientMetadata("jwks_uri must be a URL")
        _check_url(uri, settings=settings, name="jwks_uri")
        body = ClientKeys(jwks_uri=uri)
    if ssa_keys.jwks is None and ssa_keys.jwks_uri is None:
        return body
    if has_uri:
        if body.jwks_uri != ssa_keys.jwks_uri:
            raise InvalidClientMetadata("jwks_uri must be the software statement's software_jwks_endpoint")
        return body
    if has_jwks:
        if ssa_keys.jwks is None or _thumbprints(body.jwks) != _thumbprints(ssa_keys.jwks):
            raise InvalidClientMetadata("jwks must be the software statement's software_jwks")
        return ClientKeys(jwks=ssa_keys.jwks)
    if ssa_keys.jwks is not None:
        return ClientKeys(jwks=ssa_keys.jwks)
    return ClientKeys(jwks_uri=ssa_keys.jwks_uri)


def _thumbprints(jwks: Mapping[str, Any] | None) -> frozenset[str]:
    try:
        return frozenset(jose.thumbprint(k) for k in (jwks or {}).get("keys", []))
    except jose.JoseError as exc:
        raise InvalidClientMetadata("jwks holds an invalid key") from exc
