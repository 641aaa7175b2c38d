"""Discovery: authorization-server metadata and the gateway's public signing keys.

RFC 8414 section 3 (``/.well-known/oauth-authorization-server``) and OpenID Connect Discovery 1.0
section 4 (``/.well-known/openid-configuration``) serve the same document; RFC 8705 section 5
(``mtls_endpoint_aliases``), RFC 9126 section 5 (PAR), RFC 9449 section 5.1 (DPoP), RFC 9207 section 3
(``iss`` in the authorization response), RFC 9396 section 10 (``authorization_details_types_supported``),
FAPI 2.0 Security Profile section 5.3 (algorithms, PAR required, sender-constrained tokens). The advertised algs are
the rulebook's (policies/fapi.yaml ``algorithms``): what the gateway accepts for client assertions, DPoP proofs and
request objects, and the one alg it signs ID tokens with.
``GET /jwks`` is the RFC 7517 section 5 JWK Set named by ``jwks_uri``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway.security import jose
from gateway.services import services

# Public documents: clients may cache them a few minutes; a rotated key stays published next to the new one,
# and RFC 7517 clients refetch on an unknown ``kid``, so a short max-age is enough.
CACHE_CONTROL = "public, max-age=300"

SCOPES_SUPPORTED: tuple[str, ...] = ("openid", "accounts", "payments", "fundsconfirmations")
GRANT_TYPES_SUPPORTED: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials")
# FAPI 2.0 section 5.3.2.1 / 5.3.1.2: no shared secrets, no public clients.
CLIENT_AUTH_METHODS: tuple[str, ...] = ("private_key_jwt", "tls_client_auth")
ACR_VALUES: tuple[str, ...] = ("urn:openbanking:psd2:sca", "urn:openbanking:psd2:ca")
CLAIMS_SUPPORTED: tuple[str, ...] = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "openbanking_intent_id",
)


def authorization_server_metadata(
    *, issuer: str, algorithms: Mapping[str, Sequence[str]], id_token_alg: str
) -> dict[str, Any]:
    """The metadata document for ``issuer`` (a fresh dict; the routes serve a cached serialisation).
    ``algorithms`` is the rulebook's lists, ``id_token_alg`` the alg of the gateway's signing key."""
    assertion_algs = list(algorithms["client_assertion"])
    endpoints = {
        "token_endpoint": f"{issuer}/token",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "registration_endpoint": f"{issuer}/register",
    }
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        **endpoints,
        # FAPI 2.0 section 5.3.2.2: authorization requests only through PAR.
        "require_pushed_authorization_requests": True,
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "dpop_signing_alg_values_supported": list(algorithms["dpop_proof"]),
        "tls_client_certificate_bound_access_tokens": True,
        "authorization_response_iss_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(algorithms["request_object"]),
        "id_token_signing_alg_values_supported": [id_token_alg],
        "subject_types_supported": ["public"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": False,
        "acr_values_supported": list(ACR_VALUES),
        "authorization_details_types_supported": ["openbanking_intent"],
        # RFC 8705 section 5: mutual TLS is terminated upstream (the TLS terminator forwards the verified
        # certificate), so the mTLS aliases are the very same URLs.
        "mtls_endpoint_aliases": dict(endpoints),
    }


@lru_cache(maxsize=16)
def _metadata_body(issuer: str, algorithms: tuple[tuple[str, tuple[str, ...]], ...], id_token_alg: str) -> bytes:
    # Built once per issuer and rulebook (in practice once per process), not per request.
    document = authorization_server_metadata(issuer=issuer, algorithms=dict(algorithms), id_token_alg=id_token_alg)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


async def openid_configuration(request: Request) -> Response:
    svc = services(request)
    body = _metadata_body(svc.settings.issuer, tuple(sorted(svc.policies.fapi.algorithms.items())),
                          jose.alg_for(svc.keys.current))
    return Response(body, media_type="application/json", headers={"Cache-Control": CACHE_CONTROL})


async def jwks(request: Request) -> Response:
    # Every key of the keystore, so tokens signed before ``obgw keys rotate`` keep verifying.
    body = json.dumps(services(request).keys.public_jwks(), separators=(",", ":")).encode("utf-8")
    return Response(body, media_type="application/json", headers={"Cache-Control": CACHE_CONTROL})


def routes() -> list[BaseRoute]:
    return [
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", openid_configuration, methods=["GET"]),
        Route("/jwks", jwks, methods=["GET"], name="jwks"),
    ]
