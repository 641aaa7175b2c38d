"""Sandbox only: approving or denying a pushed request without a browser (``POST /sandbox/headless-authorize``),
for TPPs' automated tests; the TPP gets exactly the redirect a browser would (RFC 6749 section 4.1.2).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse

from consent.bank import AccountSummary
from consent.errors import ConsentError
from consent.errors import InvalidAccountSelection
from consent.lifecycle import ConsentKind
from consent.models import Consent
from gateway.backend.bank import BankUnavailable
from gateway.errors import AccessDenied
from gateway.errors import InvalidRequest
from gateway.errors import NotFound
from gateway.errors import TemporarilyUnavailable
from gateway.oauth.authorization_consents import authorise_step
from gateway.oauth.authorization_consents import customer_accounts
from gateway.oauth.authorization_consents import is_reauthentication
from gateway.oauth.authorization_consents import pending_consent
from gateway.oauth.authorization_consents import reauthorise_step
from gateway.oauth.authorization_consents import reject_step
from gateway.oauth.authorization_requests import ConsentStep
from gateway.oauth.authorization_requests import find_pending
from gateway.oauth.authorization_requests import finish
from gateway.oauth.token import read_form
from gateway.security.sign_in_throttle import client_address
from gateway.services import services as get_services


def _headless_accounts(consent: Consent, accounts: Sequence[AccountSummary], requested: str | None) -> list[str]:
    """The accounts a headless approval shares: those asked for (``account_ids``, space separated), else every
    account for an account-access consent and the customer's first account for the single-account kinds."""
    if requested:
        return requested.split()
    ids = [a.account_id for a in accounts]
    return ids if consent.kind == ConsentKind.ACCOUNT_ACCESS else ids[:1]


async def headless_authorize(request: Request) -> JSONResponse:
    """Sandbox only: approve or deny a pushed request without a browser, for TPPs' automated tests.

    ``POST /sandbox/headless-authorize`` with an ``application/x-www-form-urlencoded`` body:

    * ``client_id``, ``request_uri``: as the TPP would send the customer to ``/authorize``;
    * ``username``, ``password``: a documented sandbox test customer;
    * ``decision``: ``approve`` or ``deny``;
    * ``account_ids`` (optional): the accounts to share, space separated; by default every account of the
      customer for an account-access consent, their first account for a payment or funds-confirmation consent.

    Answers 200 ``{"redirect_to": "<redirect_uri>?code=...&state=...&iss=..."}``, exactly the redirect a
    browser would get (or ``error=access_denied`` on deny). Errors are OAuth JSON errors:
    ``invalid_request_uri`` (400), ``access_denied`` (403, wrong customer credentials). 404 unless the
    gateway runs in sandbox mode with headless approval enabled (production refuses to start with it).
    """
    svc = get_services(request)
    if not (svc.settings.is_sandbox and svc.settings.headless_approval):
        raise NotFound()
    form = await read_form(request)
    decision = form.get("decision")
    if decision not in ("approve", "deny"):
        raise InvalidRequest("decision must be approve or deny")
    username, password = form.get("username", ""), form.get("password", "")
    async with svc.db.session() as db:
        pending = await find_pending(db, client_id=form.get("client_id"), request_uri=form.get("request_uri"),
                                      session=None, require_started=False)
        if not username or not password:
            raise AccessDenied("username and password of a sandbox test customer are required")
        address = client_address(request, settings=svc.settings)
        # Raises SignInThrottled (429, Retry-After) once this username or address has no failures left.
        await svc.sign_in_throttle.check(username=username, address=address)
        try:
            psu = await svc.bank.authenticate(username=username, password=password)
        except BankUnavailable:
            raise TemporarilyUnavailable("the sandbox bank is unavailable") from None
        if psu is None:
            await svc.sign_in_throttle.failed(username=username, address=address)
            raise AccessDenied("the sandbox customer's credentials are not right")
        consent = await pending_consent(db, pending, psu_id=psu.psu_id)
        step: ConsentStep | None = None
        if consent is not None and is_reauthentication(consent):
            step = reauthorise_step(pending, consent, psu_id=psu.psu_id) if decision == "approve" else None
        elif consent is not None and decision == "approve":
            accounts = await customer_accounts(svc, psu.psu_id)
            chosen = _headless_accounts(consent, accounts, form.get("account_ids"))
            step = authorise_step(pending, consent, psu_id=psu.psu_id, chosen=chosen, accounts=accounts)
        elif consent is not None:
            step = reject_step(pending, consent, psu_id=psu.psu_id)
        try:
            location = await finish(db, pending=pending, psu_id=psu.psu_id, auth_time=int(time.time()),
                                     approve=decision == "approve", services=svc, consent_step=step)
        except InvalidAccountSelection as exc:
            raise InvalidRequest(exc.message, detail=exc.detail) from None
        except ConsentError as exc:
            raise InvalidRequest("this consent can no longer be decided", detail=exc.detail) from None
    return JSONResponse({"redirect_to": location}, headers={"Cache-Control": "no-store"})
