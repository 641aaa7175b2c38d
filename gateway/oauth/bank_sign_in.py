"""Customer sign-in through the bank's OpenID Connect provider during an authorization (docs/architecture.md
section 10, docs/bank-sign-in.md): the redirect from ``GET /authorize`` to the provider and its return to
``GET /bank-sign-in/callback``, and the same sign-in for the customer's consent dashboard (``/consents``).

The authentication request (OpenID Connect Core 1.0 section 3.1.2.1, built by ``gateway.backend.bank_idp``)
carries a fresh ``state``, ``nonce`` and PKCE verifier (RFC 7636), kept in the customer's signed session cookie
(``gateway.oauth.psu_session``) together with the pushed request they are for, so the answer can only complete
the authorization this browser opened. ``state`` is used once: a single-use marker (RFC 6749 section 10.12,
OAuth 2.0 Security BCP RFC 9700 section 4.7) refuses a replayed answer even with an old copy of the cookie. A
refused sign-in (the provider's error, another provider's answer, a replayed or foreign state, an ID token that
does not hold: issuer, audience, expiry, nonce, signature, acr) is an error page and changes nothing: the
customer is not signed in, the pushed request and its consent stay as they were.

Both sign-ins share the one registered redirect URI. Where the customer goes after it is bound into the signed
session cookie with the state, as one of two fixed purposes (``authorize``: back to the pushed request it was
for; ``dashboard``: ``/consents``), never a URL from the request, so the callback cannot be made an open
redirect.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway.backend.bank_idp import BankCustomer
from gateway.backend.bank_idp import BankIdentityProvider
from gateway.backend.bank_idp import BankIdpUnavailable
from gateway.backend.bank_idp import BankSignInRefused
from gateway.backend.bank_idp import SignInRequest
from gateway.backend.bank_idp import new_sign_in_request
from gateway.errors import AccessDenied
from gateway.errors import InvalidRequest
from gateway.errors import OAuthError
from gateway.errors import TemporarilyUnavailable
from gateway.oauth import psu_session
from gateway.oauth.authorization_requests import Pending
from gateway.oauth.authorization_requests import find_pending
from gateway.oauth.authorize_pages import error_page
from gateway.oauth.authorize_pages import origin
from gateway.oauth.authorize_pages import page_headers
from gateway.oauth.psu_session import PsuSession
from gateway.services import Services
from gateway.services import services as get_services

CALLBACK_PATH = "/bank-sign-in/callback"
DASHBOARD_PATH = "/consents"
PURPOSE_AUTHORIZE = "authorize"
PURPOSE_DASHBOARD = "dashboard"
_UNAVAILABLE = "The bank cannot sign you in right now. Please try again later."
# Why the bank's provider is unavailable is for the operator (a wrong OBGW_BANK_IDP_ISSUER, the provider down), not
# for the customer's error page.
_log = logging.getLogger(__name__)


def _provider(services: Services) -> BankIdentityProvider:
    if services.bank_idp is None:
        raise InvalidRequest("customers sign in with the bank's password form here")
    return services.bank_idp


async def start(request: Request, pending: Pending, session: PsuSession, *, services: Services) -> Response:
    """Send the customer to the bank's identity provider to sign in for ``pending`` (a 303 the bank's app can
    open as a universal/app link), remembering what the answer must match."""
    return await _redirect(request, session, services=services, purpose={
        "purpose": PURPOSE_AUTHORIZE, "handle_hash": pending.handle_hash, "client_id": pending.client.client_id,
        "request_uri": pending.request_uri})


async def start_for_dashboard(request: Request, session: PsuSession, *, services: Services) -> Response:
    """Send the customer to the bank's identity provider to sign in to the consent dashboard; the answer brings
    them back to ``DASHBOARD_PATH``."""
    return await _redirect(request, session, services=services, purpose={"purpose": PURPOSE_DASHBOARD})


async def _redirect(request: Request, session: PsuSession, *, services: Services,
                    purpose: dict[str, str]) -> Response:
    sign_in = new_sign_in_request()
    try:
        url = await _provider(services).authorization_url(request=sign_in)
    except BankIdpUnavailable as exc:
        _log.warning("the bank's identity provider is unavailable: %s", exc)
        return error_page(request, TemporarilyUnavailable(_UNAVAILABLE), services=services)
    remembered = session.with_bank_sign_in({
        "state": sign_in.state, "nonce": sign_in.nonce, "code_verifier": sign_in.code_verifier,
        **purpose, "started": int(time.time()),
    })
    response = RedirectResponse(url, status_code=303, headers=page_headers(form_origins=(origin(url),)))
    psu_session.save(response, remembered, request=request, services=services)
    return response


def _state_marker(state: str) -> str:
    return "bank-sign-in-state:" + hashlib.sha256(state.encode("utf-8")).hexdigest()


async def callback(request: Request) -> Response:
    """The provider's answer (Core 1.0 section 3.1.2.5 and 3.1.2.6): sign the customer in and go back to the
    authorization, or show why not."""
    svc = get_services(request)
    session = psu_session.load(request, services=svc)
    answer = {k: v for k, v in request.query_params.items() if k in (
        "code", "state", "iss", "error", "error_description")}
    try:
        provider = _provider(svc)
        if any(len(request.query_params.getlist(k)) > 1 for k in answer):
            raise InvalidRequest("parameters must not be repeated")
        remembered = session.bank_sign_in if session is not None else None
        if session is None or not remembered:
            raise AccessDenied("no sign-in at the bank is under way in this browser: start again from the app")
        sign_in = SignInRequest(state=str(remembered["state"]), nonce=str(remembered["nonce"]),
                                code_verifier=str(remembered["code_verifier"]))
        purpose = remembered.get("purpose", PURPOSE_AUTHORIZE)
        again = "open your consents again" if purpose == PURPOSE_DASHBOARD else "start again from the app"
        if time.time() - int(remembered.get("started", 0)) > psu_session.INTERACTION_WINDOW:
            raise AccessDenied(f"the sign-in at the bank took too long: {again}")
        if purpose == PURPOSE_DASHBOARD:
            target = DASHBOARD_PATH
        elif purpose == PURPOSE_AUTHORIZE:
            target = await _authorization_target(svc, session, remembered)
        else:
            raise AccessDenied("no sign-in at the bank is under way in this browser: start again from the app")
        try:
            customer = await _complete(provider, svc, answer=answer, sign_in=sign_in, again=again)
        except BankSignInRefused as refused:
            raise AccessDenied(refused.message) from None
        except BankIdpUnavailable as exc:
            _log.warning("the bank's identity provider is unavailable: %s", exc)
            raise TemporarilyUnavailable(_UNAVAILABLE) from None
    except OAuthError as exc:
        return error_page(request, exc, services=svc)
    signed_in = session.signed_in_as(psu_id=customer.psu_id, name=customer.name, now=int(time.time()),
                                     acr=customer.acr, amr=customer.amr)
    if customer.auth_time is not None:
        # OpenID Connect Core 1.0 section 2: when the bank authenticated the customer, not when we heard of it.
        signed_in = replace(signed_in, auth_time=customer.auth_time)
    response = RedirectResponse(target, status_code=303, headers=page_headers())
    psu_session.save(response, signed_in, request=request, services=svc)
    return response


async def _authorization_target(services: Services, session: PsuSession, remembered: dict[str, Any]) -> str:
    """``/authorize`` for the pushed request the sign-in was started for, still pending in this browser."""
    async with services.db.session() as db:
        pending = await find_pending(db, client_id=remembered.get("client_id"),
                                     request_uri=remembered.get("request_uri"), session=session,
                                     require_started=True)
    if pending.handle_hash != remembered.get("handle_hash"):
        raise AccessDenied("the sign-in at the bank was for another authorization")
    return "/authorize?" + urlencode({"client_id": pending.client.client_id, "request_uri": pending.request_uri})


async def _complete(provider: BankIdentityProvider, services: Services, *, answer: dict[str, str],
                    sign_in: SignInRequest, again: str) -> BankCustomer:
    # What the answer shows of itself is checked first (``check_answer``): its state against the session's and
    # its iss against the bank's issuer (RFC 9207). An answer refused there spends nothing, so a forged one
    # (another provider's, or one whose iss was altered or dropped) cannot burn the customer's sign-in: their
    # genuine answer still completes it. Then the state is used up before the code goes to the bank: the same
    # answer presented again, even with a copy of the earlier cookie, is refused, whatever the bank made of it.
    try:
        await provider.check_answer(response=answer, request=sign_in)
    except BankSignInRefused as refused:
        raise BankSignInRefused(f"{refused.message}: {again}") from None
    if not await services.single_use.claim(_state_marker(sign_in.state), ttl=psu_session.INTERACTION_WINDOW):
        raise BankSignInRefused(f"this answer from the bank was already used: {again}")
    return await provider.complete(response=answer, request=sign_in)


def routes() -> list[BaseRoute]:
    return [Route(CALLBACK_PATH, callback, methods=["GET"], name="bank_sign_in_callback")]
