"""Client metadata of a registration: the rules of RFC 7591 section 2 (client metadata), OBIE DCR v3.3
(data dictionary, "Request Validation") and FAPI 2.0 (sections 5.3.2.1, 5.3.2.2 and 5.4) applied to what a
client asks to register, and what it gets back (RFC 7591 section 3.2.1, RFC 7592 section 3).
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509

from gateway.errors import InvalidClientMetadata
from gateway.errors import InvalidRedirectUri
from gateway.oauth.registration_keys import ClientKeys
from gateway.security import jose
from gateway.settings import Settings

MAX_SCOPE_LENGTH = 256  # OBIE DCR v3.3 OBRegistrationProperties1.scope maxLength
MAX_SUBJECT_DN_LENGTH = 512  # OBIE DCR v3.4 tls_client_auth_subject_dn maxLength

# FAPI 2.0 section 5.3.2.1 / OBIE DCR v3.3 ("only tls_client_auth and private_key_jwt are FAPI compliant"):
# no client secrets, no public clients.
AUTH_METHODS = frozenset({"private_key_jwt", "tls_client_auth"})
GRANT_TYPES: tuple[str, ...] = ("client_credentials", "authorization_code", "refresh_token")
# FAPI 2.0 section 5.3.2.2: response type ``code`` only (no hybrid ``code id_token``).
RESPONSE_TYPES = frozenset({"code"})
APPLICATION_TYPES = frozenset({"web", "mobile", "native"})
ROLE_SCOPES: Mapping[str, str] = {"AISP": "accounts", "PISP": "payments", "CBPII": "fundsconfirmations"}
# Claims of the software statement that describe the statement, not the software (not echoed flattened).
SSA_ENVELOPE_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "exp", "nbf", "jti"})
DISPLAY_URIS: Final = ("logo_uri", "tos_uri", "policy_uri", "client_uri")


@dataclass(frozen=True, kw_only=True)
class ClientMetadata:
    """Client metadata that passed every rule, ready to store and echo (RFC 7591 section 3.2.1)."""

    software_id: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    token_endpoint_auth_signing_alg: str | None
    tls_client_auth_subject_dn: str | None
    grant_types: list[str]
    response_types: list[str]
    scope: str
    application_type: str
    id_token_signed_response_alg: str
    request_object_signing_alg: str
    client_name: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    software_statement: str
    ssa_claims: dict[str, Any]

    def registered(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "scope": self.scope,
            "software_id": self.software_id,
            "application_type": self.application_type,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "request_object_signing_alg": self.request_object_signing_alg,
            "client_name": self.client_name,
        }
        if self.token_endpoint_auth_signing_alg:
            out["token_endpoint_auth_signing_alg"] = self.token_endpoint_auth_signing_alg
        if self.tls_client_auth_subject_dn:
            out["tls_client_auth_subject_dn"] = self.tls_client_auth_subject_dn
        if self.jwks is not None:
            out["jwks"] = self.jwks
        if self.jwks_uri is not None:
            out["jwks_uri"] = self.jwks_uri
        return out

    def response(self, *, client_id: str, issued_at: int, issuer: str) -> dict[str, Any]:
        # OBIE DCR v3.3: the SSA's claims flattened to the top level; registered metadata wins on a clash.
        flattened = {k: v for k, v in self.ssa_claims.items() if k not in SSA_ENVELOPE_CLAIMS}
        return {
            **flattened,
            **self.registered(),
            "client_id": client_id,
            "client_id_issued_at": issued_at,
            # RFC 7592 section 3: where the client reads, updates and deletes this registration.
            "registration_client_uri": f"{issuer}/register/{client_id}",
            "software_statement": self.software_statement,
        }


def allowed_scopes(roles: list[str]) -> list[str]:
    """``openid`` plus the scopes the software's roles grant (OBIE: registration scope ⊆ SSA roles)."""
    scopes = ["openid"]
    for role, scope in ROLE_SCOPES.items():
        if role in roles:
            scopes.append(scope)
    return scopes


def _optional_str(metadata: Mapping[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidClientMetadata(f"{name} must be a non-empty string")
    return value


def _str_list(metadata: Mapping[str, Any], name: str, *, default: list[str]) -> list[str]:
    if name not in metadata:
        return list(default)
    value = metadata[name]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidClientMetadata(f"{name} must be a non-empty array of strings")
    # Keep the order the client gave, drop duplicates.
    return list(dict.fromkeys(value))


def _fapi_alg(
    metadata: Mapping[str, Any], name: str, *, allowed: Collection[str], default: str | None
) -> str | None:
    """``name`` from ``metadata``, one of ``allowed`` (the rulebook's list for that use, within FAPI's)."""
    value = _optional_str(metadata, name)
    if value is None:
        return default
    if value not in allowed or value not in jose.FAPI_ALGORITHMS:
        # FAPI 2.0 section 5.4: PS256, ES256, EdDSA at most (RS256 refused, as the OBIE DCR tool expects); the
        # rulebook (policies/fapi.yaml algorithms) narrows each use further.
        raise InvalidClientMetadata(f"{name} must be one of {', '.join(allowed)}")
    return value


def _redirect_uris(metadata: Mapping[str, Any], ssa: Mapping[str, Any], *, settings: Settings) -> list[str]:
    value = metadata.get("redirect_uris")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidRedirectUri("redirect_uris must be a non-empty array of URIs")
    allowed = set(ssa["software_redirect_uris"])
    for uri in value:
        if uri not in allowed:
            # OBIE DCR v3.3 data dictionary: redirect_uris must be among the SSA's software_redirect_uris.
            raise InvalidRedirectUri("every redirect_uri must be listed in the software statement's software_redirect_uris: add it to your app "
                                     "in the portal or leave it out")
        if "#" in uri:
            raise InvalidRedirectUri("a redirect_uri must not contain a fragment")  # RFC 6749 section 3.1.2
        if not settings.is_sandbox and not uri.startswith("https://"):
            raise InvalidRedirectUri("redirect_uris must use https")  # OBIE DCR v3.3 data dictionary
    return list(dict.fromkeys(value))


def _subject_dn(metadata: Mapping[str, Any]) -> str:
    dn = _optional_str(metadata, "tls_client_auth_subject_dn")
    if dn is None:
        raise InvalidClientMetadata("tls_client_auth requires tls_client_auth_subject_dn")  # RFC 8705 2.1.2
    if len(dn) > MAX_SUBJECT_DN_LENGTH:
        raise InvalidClientMetadata("tls_client_auth_subject_dn is too long")
    try:
        x509.Name.from_rfc4514_string(dn)
    except ValueError as exc:
        raise InvalidClientMetadata("tls_client_auth_subject_dn is not an RFC 4514 name") from exc
    return dn


def validate_client_metadata(
    metadata: Mapping[str, Any],
    *,
    ssa: Mapping[str, Any],
    software_statement: str,
    keys: ClientKeys,
    settings: Settings,
    algorithms: Mapping[str, Sequence[str]],
) -> ClientMetadata:
    """Apply RFC 7591 section 2, OBIE DCR v3.3 and FAPI 2.0 rules to ``metadata`` (unknown claims ignored).
    ``algorithms`` is the rulebook's (policies/fapi.yaml): the algs a client may register for its assertions,
    request objects and ID tokens."""
    software_id = str(ssa["software_id"])
    if "software_id" in metadata and metadata["software_id"] != software_id:
        raise InvalidClientMetadata("software_id must equal the software statement's software_id")

    redirect_uris = _redirect_uris(metadata, ssa, settings=settings)
    _check_display_uris(metadata, ssa)

    method = metadata.get("token_endpoint_auth_method")
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata("token_endpoint_auth_method must be private_key_jwt or tls_client_auth")
    signing_alg: str | None = None
    subject_dn: str | None = None
    if method == "private_key_jwt":
        assertion_algs = algorithms["client_assertion"]
        signing_alg = _fapi_alg(metadata, "token_endpoint_auth_signing_alg", allowed=assertion_algs, default=None)
        if signing_alg is None:
            raise InvalidClientMetadata(f"private_key_jwt requires token_endpoint_auth_signing_alg: one of {', '.join(assertion_algs)}")
        if keys.jwks is None and keys.jwks_uri is None:
            raise InvalidClientMetadata("private_key_jwt requires the client's keys (jwks or jwks_uri)")
    else:
        subject_dn = _subject_dn(metadata)

    grant_types = _str_list(metadata, "grant_types", default=list(GRANT_TYPES))
    if not set(grant_types) <= set(GRANT_TYPES):
        raise InvalidClientMetadata(f"grant_types must be among {', '.join(GRANT_TYPES)}")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise InvalidClientMetadata("refresh_token needs the authorization_code grant")

    code_flow = "authorization_code" in grant_types
    response_types = _str_list(metadata, "response_types", default=["code"] if code_flow else [])
    if not set(response_types) <= RESPONSE_TYPES:
        raise InvalidClientMetadata("response_types must be [\"code\"] (FAPI 2.0)")
    # RFC 7591 section 2.1: response type ``code`` and grant ``authorization_code`` go together.
    if ("code" in response_types) != code_flow:
        raise InvalidClientMetadata("response_types code and grant_types authorization_code must go together")

    allowed = allowed_scopes(list(ssa["software_roles"]))
    scope_value = metadata.get("scope")
    if scope_value is None:
        scopes = allowed
    else:
        if not isinstance(scope_value, str) or not scope_value.strip() or len(scope_value) > MAX_SCOPE_LENGTH:
            raise InvalidClientMetadata("scope must be a space-separated string of at most 256 characters")
        scopes = list(dict.fromkeys(scope_value.split()))
        extra = [s for s in scopes if s not in allowed]
        if extra:
            raise InvalidClientMetadata(f"scope beyond the software's roles: {' '.join(extra)}")

    application_type = _optional_str(metadata, "application_type") or "web"
    if application_type not in APPLICATION_TYPES:
        raise InvalidClientMetadata("application_type must be web, mobile or native")

    client_name = metadata.get("client_name", ssa.get("software_client_name", ""))
    if not isinstance(client_name, str) or len(client_name) > 255:
        raise InvalidClientMetadata("client_name must be a string of at most 255 characters")

    return ClientMetadata(
        software_id=software_id,
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=str(method),
        token_endpoint_auth_signing_alg=signing_alg,
        tls_client_auth_subject_dn=subject_dn,
        grant_types=grant_types,
        response_types=response_types,
        scope=" ".join(scopes),
        application_type=application_type,
        id_token_signed_response_alg=str(_fapi_alg(metadata, "id_token_signed_response_alg",
                                                   allowed=algorithms["id_token"], default=algorithms["id_token"][0])),
        request_object_signing_alg=str(_fapi_alg(metadata, "request_object_signing_alg",
                                                 allowed=algorithms["request_object"],
                                                 default=algorithms["request_object"][0])),
        client_name=client_name,
        jwks=keys.jwks,
        jwks_uri=keys.jwks_uri,
        software_statement=software_statement,
        ssa_claims=dict(ssa),
    )


def _check_display_uris(metadata: Mapping[str, Any], ssa: Mapping[str, Any]) -> None:
    """RFC 7591 section 2 display links (and the SSA's ``software_*`` ones, OBIE DCR v3.3): shown to customers,
    so https only, in every mode; ``javascript:``, ``data:`` and ``http:`` are refused naming the field."""
    for source, prefix in ((metadata, ""), (ssa, "software_")):
        for field in DISPLAY_URIS:
            name = prefix + field
            if name not in source:
                continue
            value = source[name]
            parts = urlsplit(value) if isinstance(value, str) else None
            if (parts is None or parts.scheme != "https" or not parts.hostname
                    or any(ch.isspace() or ord(ch) < 32 for ch in value)):
                raise InvalidClientMetadata(f"{name} must be an https URL")
