"""The bank's customer pages of an authorization (RFC 6749 section 3.1): the headers of every customer page, the
error page (an unknown, expired, used or foreign ``request_uri`` is shown there, never redirected: RFC 6749
section 4.1.2.1), the sign-in page and the consent page (``consent.pages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from consent import service as consent_service
from consent.bank import AccountSummary
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.pages import consent_page_view
from consent.pages import render_consent_page
from gateway.errors import OAuthError
from gateway.oauth.authorization_consents import customer_accounts
from gateway.oauth.authorization_requests import Pending
from gateway.oauth.psu_session import PsuSession
from gateway.services import Services

SCOPE_WORDS = {
    "openid": "Confirm to them who you are at this bank",
    "accounts": "See your account details, balances and transactions",
    "payments": "Make payments from your account that you approve",
    "fundsconfirmations": "Check whether your account has enough money for a payment",
}


def page_headers(*, form_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers of every customer page: no framing, no caching, no referrer, forms only to us (and the
    origin we redirect to after a form post, which CSP form-action also governs)."""
    form_action = " ".join(("'self'", *form_origins))
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'self' 'unsafe-inline'; form-action {form_action}; "
            "frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def error_page(request: Request, exc: OAuthError, *, services: Services) -> Response:
    return services.templates.TemplateResponse(
        request,
        "error.html",
        {"error": exc.error, "message": exc.message or "The request cannot be completed."},
        status_code=exc.status_code,
        headers=page_headers(),
    )


def _page(request: Request, name: str, context: dict[str, Any], *, services: Services, pending: Pending,
          status_code: int = 200) -> Response:
    return services.templates.TemplateResponse(
        request, name, context, status_code=status_code,
        headers=page_headers(form_origins=(origin(pending.params["redirect_uri"]),)),
    )


async def consent_page(request: Request, pending: Pending, session: PsuSession, *, services: Services,
                        consent: Consent | None, accounts: Sequence[AccountSummary] | None = None,
                        chosen: Sequence[str] = (), message: str | None = None, status_code: int = 200) -> Response:
    """The consent page (``consent.pages``): who asks for what, the accounts to choose, Approve and Deny."""
    if accounts is None:
        assert session.psu_id is not None
        accounts = await customer_accounts(services, session.psu_id) if consent is not None else []
    scopes = pending.params["scope"].split()
    granted: tuple[str, ...] = ()
    if consent is not None and consent.status == ConsentStatus.AUTHORISED:
        async with services.db.session() as db:
            granted = await consent_service.consented_accounts(session=db, consent_id=consent.consent_id)
    view = consent_page_view(
        consent=consent,
        client_name=pending.client.client_name or pending.client.client_id,
        accounts=accounts,
        customer_name=session.name,
        action="/authorize/decision",
        hidden={"csrf": session.csrf, "client_id": pending.client.client_id, "request_uri": request_uri_of(pending)},
        identity_words=[SCOPE_WORDS["openid"]] if "openid" in scopes and consent is None else [],
        chosen=chosen,
        message=message,
        granted_account_ids=granted,
    )
    return render_consent_page(
        request, view, headers=page_headers(form_origins=(origin(pending.params["redirect_uri"]),)),
        status_code=status_code,
    )


def request_uri_of(pending: Pending) -> str:
    return pending.request_uri


def login_page(request: Request, pending: Pending, session: PsuSession, *, services: Services,
                message: str | None = None, status_code: int = 200) -> Response:
    return _page(
        request, "sign_in.html",
        {"action": "/login", "csrf": session.csrf, "client_id": pending.client.client_id,
         "request_uri": request_uri_of(pending), "client_name": pending.client.client_name or pending.client.client_id,
         "message": message},
        services=services, pending=pending, status_code=status_code,
    )
