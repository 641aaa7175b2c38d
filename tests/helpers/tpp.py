"""A third-party provider built only from public libraries (authlib's OAuth 2 client, joserfc), for the
journey and browser tests: it knows the RFCs, not the gateway's code."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt as jrfc_jwt
from joserfc.jwk import ECKey

REDIRECT_URI = "https://tpp.example.org/callback"
PSU = ("alice", "alice-wonderland")


class DPoP:
    """An RFC 9449 proof factory on its own P-256 key."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        claims: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method, "htu": url.split("?")[0],
                                  "iat": int(time.time())}
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jrfc_jwt.encode(header, claims, self.key)

    @property
    def jkt(self) -> str:
        return str(self.key.thumbprint())


def app_request(*, auth_method: str = "private_key_jwt", roles: tuple[str, ...] = ("AISP", "PISP")) -> dict[str, Any]:
    """The sandbox portal's JSON API body for a new app."""
    return {"name": "Journey Budgeting", "redirect_uris": [REDIRECT_URI], "roles": list(roles),
            "token_endpoint_auth_method": auth_method}


def registration_request(app: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """RFC 7591 registration metadata carrying the portal's software statement."""
    body: dict[str, Any] = {
        "software_statement": app["software_statement"], "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": app.get("token_endpoint_auth_method", "private_key_jwt"),
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "openid accounts payments",
    }
    if body["token_endpoint_auth_method"] == "private_key_jwt":
        body["token_endpoint_auth_signing_alg"] = app["private_jwk"]["alg"]
    else:
        body["tls_client_auth_subject_dn"] = app["tls_client_auth_subject_dn"]
    body.update(extra)
    return body


def client_authenticated_form(oauth: Any, url: str, data: dict[str, str]) -> tuple[str, dict[str, str], str]:
    """A form POST carrying authlib's client authentication (for endpoints authlib has no method for, such
    as RFC 9126 PAR): returns (url, headers, body)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    auth = oauth.client_auth(oauth.token_endpoint_auth_method)
    uri, headers, body = auth.prepare("POST", url, headers, urlencode(data))
    return uri, dict(headers), body


def intent_claims(consent_id: str) -> str:
    """OBIE: the consent travels as ``claims.id_token.openbanking_intent_id``."""
    return json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}})
