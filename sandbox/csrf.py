"""CSRF protection for the portal's HTML forms: a signed double-submit token (OWASP CSRF Prevention Cheat Sheet,
"Signed Double-Submit Cookie").

The browser holds a random value in a ``SameSite=Strict``, ``HttpOnly`` cookie; every form carries
HMAC-SHA256(portal secret, that value). A cross-site page can neither read the cookie nor compute the HMAC, and
a planted cookie is useless without the secret. Any missing or mismatching part rejects (403 ``csrf_failed``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from sandbox.errors import CsrfFailed
from sandbox.files import write_new_file

COOKIE_NAME = "obgw_sandbox_csrf"
FIELD_NAME = "csrf_token"
COOKIE_PATH = "/portal"


def load_or_create_secret(*, configured: str, path: Path) -> bytes:
    """The configured secret, else a random one kept (mode 0600) so tokens survive a restart."""
    if configured:
        return configured.encode("utf-8")
    if not path.exists():
        write_new_file(path, secrets.token_urlsafe(48).encode("ascii"), mode=0o600)
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds too short a secret")
    return secret


def _mac(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def token_for(request: Request, *, secret: bytes) -> tuple[str, str | None]:
    """(form token, new cookie value or None when the browser already holds one)."""
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie and 20 <= len(cookie) <= 128:
        return _mac(secret, cookie), None
    fresh = secrets.token_urlsafe(32)
    return _mac(secret, fresh), fresh


def set_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE_NAME, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure, max_age=12 * 3600
    )


def check(request: Request, submitted: object, *, secret: bytes) -> None:
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie or not isinstance(submitted, str) or not submitted:
        raise CsrfFailed("form expired or sent from another site: reload the page and try again")
    if not hmac.compare_digest(submitted, _mac(secret, cookie)):
        raise CsrfFailed("form expired or sent from another site: reload the page and try again")
