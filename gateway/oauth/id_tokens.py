"""ID tokens (OpenID Connect Core 1.0 section 2, 3.1.3.6 and 12.2) as UK Open Banking expects them.

Signed with the gateway's current key, in its alg (PS256), which must be one of the rulebook's ``algorithms.id_token``
(policies/fapi.yaml; checked at start-up, ``FapiPolicy.check_signing_key``), ``kid`` in the header (FAPI 2.0
Security Profile section 5.4).
``acr`` is ``urn:openbanking:psd2:sca``: the customer signed in at the bank (where the bank's identity provider
signs them in, its ID token had to show one of the configured SCA ``acr`` values, and its ``amr`` is carried on:
docs/architecture.md section 10). ``openbanking_intent_id`` names
the consent the customer authorised (OBIE Read/Write API "Consent Authorisation"); the refresh-token expiry
claim follows OBIE "Token Expiry Time".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from gateway.store.db import utcnow

ACR_SCA = "urn:openbanking:psd2:sca"
REFRESH_EXPIRY_CLAIM = "http://openbanking.org.uk/refresh_token_expires_at"


def requested_intent_id(*, claims: Any, authorization_details: Any) -> str | None:
    """The consent id a request names: ``claims.id_token.openbanking_intent_id.value`` (OBIE) or
    ``claims.userinfo...`` (seen in the field), or an RFC 9396 ``openbanking_intent`` detail's ``consent_id``.

    Raises ``ValueError`` when the places disagree or a value is not a string.
    """
    found: set[str] = set()
    if isinstance(claims, dict):
        for member in ("id_token", "userinfo"):
            section = claims.get(member)
            if not isinstance(section, dict) or "openbanking_intent_id" not in section:
                continue
            request = section["openbanking_intent_id"]
            value = request.get("value") if isinstance(request, dict) else None
            if not isinstance(value, str) or not value:
                raise ValueError(f"claims.{member}.openbanking_intent_id.value must be a string")
            found.add(value)
    if isinstance(authorization_details, list):
        for detail in authorization_details:
            if isinstance(detail, dict) and detail.get("type") == "openbanking_intent":
                value = detail.get("consent_id")
                if not isinstance(value, str) or not value:
                    raise ValueError("openbanking_intent authorization detail needs a consent_id")
                found.add(value)
    if len(found) > 1:
        raise ValueError("the request names more than one consent")
    return found.pop() if found else None


def build_id_token(
    *,
    settings: Settings,
    keys: KeyStore,
    client_id: str,
    psu_id: str,
    auth_time: datetime | None,
    nonce: str | None = None,
    intent_id: str | None = None,
    refresh_expires_at: datetime | None = None,
    amr: tuple[str, ...] = (),
    now: datetime | None = None,
) -> str:
    moment = int((now or utcnow()).timestamp())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": psu_id,
        "aud": client_id,
        "iat": moment,
        "exp": moment + settings.id_token_lifetime,
        "acr": ACR_SCA,
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    if nonce:
        claims["nonce"] = nonce
    if amr:
        # OpenID Connect Core 1.0 section 2: the methods the bank's identity provider authenticated them with.
        claims["amr"] = list(amr)
    if intent_id:
        claims["openbanking_intent_id"] = intent_id
    if refresh_expires_at is not None:
        claims[REFRESH_EXPIRY_CLAIM] = int(refresh_expires_at.timestamp())
    key = keys.current
    return jose.sign(claims, key=key, alg=jose.alg_for(key), headers={"typ": "JWT", "kid": key["kid"]})
