"""The customer's browser session at the bank pages: who signed in, which authorizations are pending, and
the CSRF token every form carries.

Stateless: a cookie holding JSON signed with HMAC-SHA256 under a key derived from the server secret
(``settings.session_secret``, or random per process in sandbox mode).
Cookie attributes: ``HttpOnly``; ``SameSite=Lax`` so it survives the top-level redirect back from the TPP
(RFC 6265bis section 5.4.7); ``Secure`` and the ``__Host-`` prefix when the issuer is https. CSRF: the
synchronizer-token pattern (OWASP CSRF cheat sheet): a random token in the session, echoed in a hidden field
of every form, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import AccessDenied
from gateway.services import Services

COOKIE_NAME = "obgw_psu"
SECURE_COOKIE_NAME = "__Host-obgw_psu"
# How long a signed-in customer may take between pages; the bank's own sign-in policy bounds it.
SESSION_LIFETIME = 600
# How long a customer may take to finish an authorization they opened (RFC 9126 section 4 bounds only
# how long the request_uri may wait before the customer first presents it).
INTERACTION_WINDOW = 600
_MAX_PENDING = 8


@dataclass(frozen=True, kw_only=True)
class PsuSession:
    csrf: str
    expires: int
    psu_id: str | None = None
    name: str | None = None
    auth_time: int | None = None
    # handle hash of each pending pushed request -> when this browser first presented it
    pending: dict[str, int] = field(default_factory=dict)
    # How the bank authenticated the customer (its identity provider's ID token ``acr`` and ``amr``).
    acr: str | None = None
    amr: tuple[str, ...] = ()
    # The sign-in at the bank's identity provider under way (docs/architecture.md section 10): state, nonce,
    # PKCE verifier and the pushed request it is for (handle hash, client_id, request_uri), started at.
    bank_sign_in: dict[str, Any] | None = None

    @property
    def signed_in(self) -> bool:
        return self.psu_id is not None

    def with_pending(self, handle_hash: str, *, now: int) -> PsuSession:
        pending = {k: v for k, v in self.pending.items() if v > now - INTERACTION_WINDOW}
        pending.setdefault(handle_hash, now)
        if len(pending) > _MAX_PENDING:
            pending = dict(sorted(pending.items(), key=lambda kv: kv[1])[-_MAX_PENDING:])
        return replace(self, pending=pending)

    def pending_since(self, handle_hash: str) -> int | None:
        return self.pending.get(handle_hash)

    def without_pending(self, handle_hash: str) -> PsuSession:
        return replace(self, pending={k: v for k, v in self.pending.items() if k != handle_hash})

    def signed_in_as(self, *, psu_id: str, name: str, now: int, acr: str | None = None,
                     amr: tuple[str, ...] = ()) -> PsuSession:
        # A new CSRF token at sign-in, so a token seen before authentication is worth nothing after it.
        return replace(
            self, psu_id=psu_id, name=name, auth_time=now, csrf=secrets.token_urlsafe(32),
            expires=now + SESSION_LIFETIME, acr=acr, amr=amr, bank_sign_in=None,
        )

    def with_bank_sign_in(self, sign_in: dict[str, Any]) -> PsuSession:
        return replace(self, bank_sign_in=dict(sign_in))


def new_session(*, now: int | None = None) -> PsuSession:
    moment = int(time.time()) if now is None else now
    return PsuSession(csrf=secrets.token_urlsafe(32), expires=moment + SESSION_LIFETIME)


def _secret(services: Services) -> bytes:
    # A key of its own, derived from the server secret, so a cookie MAC is never valid anywhere else.
    return hmac.new(services.secret, b"obgw psu session cookie", hashlib.sha256).digest()


def _cookie_name(services: Services) -> str:
    return SECURE_COOKIE_NAME if _secure(services) else COOKIE_NAME


def _secure(services: Services) -> bool:
    return services.settings.issuer.startswith("https://")


def _sign(payload: bytes, secret: bytes) -> str:
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    mac = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _unsign(value: str, secret: bytes) -> dict[str, Any] | None:
    body, _, mac = value.partition(".")
    if not body or not mac:
        return None
    expected = hmac.new(secret, body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load(request: Request, *, services: Services, now: int | None = None) -> PsuSession | None:
    """The valid session of this browser, or ``None`` (no cookie, bad signature, expired)."""
    raw = request.cookies.get(_cookie_name(services))
    if not raw or len(raw) > 4096:
        return None
    data = _unsign(raw, _secret(services))
    if data is None:
        return None
    moment = int(time.time()) if now is None else now
    try:
        session = PsuSession(
            csrf=str(data["csrf"]),
            expires=int(data["expires"]),
            psu_id=data.get("psu_id"),
            name=data.get("name"),
            auth_time=data.get("auth_time"),
            pending={str(k): int(v) for k, v in dict(data.get("pending") or {}).items()},
            acr=data.get("acr"),
            amr=tuple(str(m) for m in data.get("amr") or ()),
            bank_sign_in=dict(data["bank_sign_in"]) if data.get("bank_sign_in") else None,
        )
    except (KeyError, TypeError, ValueError):
        return None
    if session.expires <= moment:
        return None
    return session


def save(response: Response, session: PsuSession, *, request: Request, services: Services) -> None:
    payload = json.dumps(
        {
            "csrf": session.csrf,
            "expires": session.expires,
            "psu_id": session.psu_id,
            "name": session.name,
            "auth_time": session.auth_time,
            "pending": session.pending,
            "acr": session.acr,
            "amr": list(session.amr),
            "bank_sign_in": session.bank_sign_in,
        },
        separators=(",", ":"),
    ).encode("utf-8")
    response.set_cookie(
        _cookie_name(services),
        _sign(payload, _secret(services)),
        max_age=SESSION_LIFETIME,
        path="/",
        secure=_secure(services),
        httponly=True,
        samesite="lax",
    )


def check_csrf(session: PsuSession | None, submitted: object) -> None:
    """403 unless ``submitted`` is this session's CSRF token."""
    if session is None or not isinstance(submitted, str) or not submitted:
        raise AccessDenied("the form's security token is missing or expired: start again")
    if not hmac.compare_digest(session.csrf.encode("utf-8"), submitted.encode("utf-8")):
        raise AccessDenied("the form's security token does not match this session")
