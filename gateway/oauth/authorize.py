"""The authorization endpoint and the bank's customer pages: ``GET /authorize`` (RFC 6749 section 3.1),
``POST /login``, ``POST /authorize/decision``, and the sandbox-only headless approval route. Where customers
sign in at the bank's identity provider (production: docs/architecture.md section 10), ``/authorize`` sends a
customer not yet signed in there (``gateway.oauth.bank_sign_in``) and ``POST /login`` is refused.

FAPI 2.0 Security Profile section 5.3.2.2: PAR is the only way in, so ``/authorize`` takes exactly
``client_id`` and ``request_uri`` (RFC 9126 section 4); an unknown, expired, used or foreign ``request_uri``
is ``invalid_request_uri`` shown on an error page, never a redirect, because nothing proves the redirect_uri
until the pushed request is found (RFC 6749 section 4.1.2.1). The pushed request becomes used when the
customer finishes, approve or deny, atomically, so it can serve one authorization only. The response carries
``iss`` (RFC 9207 section 2). Codes live ``settings.code_lifetime`` and never more than 60 s (FAPI 2.0 SP
section 5.3.2.2), are stored hashed, bound to the client, redirect_uri, PKCE challenge and the DPoP key of the PAR.

The approve page is the consent package's consent page (``consent.pages``). When the pushed request names a
consent (``openbanking_intent_id``, checked at PAR), Approve authorises it with the accounts the customer chose
among their own (``consent.service.authorise``) and Deny rejects it, in the same transaction that uses up the
pushed request and stores the code; the code carries the consent id, so the tokens and the ID token do too
(OBIE R/W API "Consent Authorisation"). Choosing no account, or an account that is not the customer's, shows the
page again with a message and changes nothing. A request naming an Authorised account-access, funds-confirmation
or VRP consent is a re-authentication (docs/obie-notes.md section 3.1): only the customer the consent is bound to
is shown it (anyone else: ``access_denied`` on an error page); Approve keeps the consent and its accounts, records
the re-authentication and revokes the consent's earlier tokens; Deny leaves the consent as it was.

The pushed request is found and used up in ``gateway.oauth.authorization_requests``, the consent it names is
decided in ``gateway.oauth.authorization_consents``, the pages are ``gateway.oauth.authorize_pages`` and the
headless approval is ``gateway.oauth.headless_approval``.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent.errors import ConsentError
from consent.errors import InvalidAccountSelection
from consent.lifecycle import ConsentKind
from gateway.backend.bank import BankUnavailable
from gateway.errors import AccessDenied
from gateway.errors import InvalidRequest
from gateway.errors import OAuthError
from gateway.errors import TemporarilyUnavailable
from gateway.oauth import bank_sign_in
from gateway.oauth import psu_session
from gateway.oauth.authorization_consents import authorise_step
from gateway.oauth.authorization_consents import customer_accounts
from gateway.oauth.authorization_consents import is_reauthentication
from gateway.oauth.authorization_consents import pending_consent
from gateway.oauth.authorization_consents import reauthorise_step
from gateway.oauth.authorization_consents import reject_step
from gateway.oauth.authorization_requests import ConsentStep
from gateway.oauth.authorization_requests import find_pending
from gateway.oauth.authorization_requests import finish
from gateway.oauth.authorize_pages import consent_page
from gateway.oauth.authorize_pages import error_page
from gateway.oauth.authorize_pages import login_page
from gateway.oauth.authorize_pages import origin
from gateway.oauth.authorize_pages import page_headers
from gateway.oauth.authorize_pages import request_uri_of
from gateway.oauth.headless_approval import headless_authorize
from gateway.oauth.token import read_form
from gateway.oauth.token import read_form_lists
from gateway.security.sign_in_throttle import SignInThrottled
from gateway.security.sign_in_throttle import client_address
from gateway.services import services as get_services


async def authorize(request: Request) -> Response:
    svc = get_services(request)
    try:
        extra = set(request.query_params.keys()) - {"client_id", "request_uri"}
        if extra:
            # FAPI 2.0 SP section 5.3.2.2 / RFC 9126 section 4: everything travels in the pushed request.
            raise InvalidRequest("only client_id and request_uri are accepted: push the request to /par first")
        if any(len(request.query_params.getlist(k)) > 1 for k in ("client_id", "request_uri")):
            raise InvalidRequest("parameters must not be repeated")
        session = psu_session.load(request, services=svc) or psu_session.new_session()
        async with svc.db.session() as db:
            pending = await find_pending(
                db, client_id=request.query_params.get("client_id"),
                request_uri=request.query_params.get("request_uri"), session=session, require_started=False,
            )
    except OAuthError as exc:
        return error_page(request, exc, services=svc)
    session = session.with_pending(pending.handle_hash, now=int(time.time()))
    if session.signed_in:
        try:
            async with svc.db.session() as db:
                consent = await pending_consent(db, pending, psu_id=session.psu_id)
            response = await consent_page(request, pending, session, services=svc, consent=consent)
        except OAuthError as exc:
            return error_page(request, exc, services=svc)
    elif svc.bank_idp is not None:
        # docs/architecture.md section 10: the customer signs in at the bank's identity provider.
        return await bank_sign_in.start(request, pending, session, services=svc)
    else:
        response = login_page(request, pending, session, services=svc)
    psu_session.save(response, session, request=request, services=svc)
    return response


async def sign_in(request: Request) -> Response:
    svc = get_services(request)
    try:
        if svc.bank_idp is not None:
            # The password form is the sandbox's: here customers sign in at the bank's identity provider.
            raise InvalidRequest("customers sign in at the bank: start again from the app")
        form = await read_form(request)
        session = psu_session.load(request, services=svc)
        psu_session.check_csrf(session, form.get("csrf"))
        assert session is not None
        async with svc.db.session() as db:
            pending = await find_pending(
                db, client_id=form.get("client_id"), request_uri=form.get("request_uri"), session=session,
                require_started=True,
            )
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password or len(username) > 128 or len(password) > 1024:
            return login_page(request, pending, session, services=svc, status_code=401,
                               message="Enter your username and password.")
        address = client_address(request, settings=svc.settings)
        try:
            await svc.sign_in_throttle.check(username=username, address=address)
        except SignInThrottled as throttled:
            response = login_page(request, pending, session, services=svc, status_code=429,
                                   message=str(throttled))
            response.headers["Retry-After"] = str(throttled.retry_after)
            return response
        try:
            psu = await svc.bank.authenticate(username=username, password=password)
        except BankUnavailable:
            raise TemporarilyUnavailable("The bank cannot sign you in right now. Please try again later.") from None
    except OAuthError as exc:
        return error_page(request, exc, services=svc)
    if psu is None:
        await svc.sign_in_throttle.failed(username=username, address=address)
        return login_page(request, pending, session, services=svc, status_code=401,
                           message="The username or password is not right.")
    signed_in = session.signed_in_as(psu_id=psu.psu_id, name=psu.name, now=int(time.time()))
    target = "/authorize?" + urlencode({"client_id": pending.client.client_id,
                                        "request_uri": request_uri_of(pending)})
    response = RedirectResponse(target, status_code=303, headers=page_headers())
    psu_session.save(response, signed_in, request=request, services=svc)
    return response


async def decide(request: Request) -> Response:
    svc = get_services(request)
    try:
        form, lists = await read_form_lists(request, repeatable=frozenset({"account_id"}))
        session = psu_session.load(request, services=svc)
        psu_session.check_csrf(session, form.get("csrf"))
        assert session is not None
        if not session.signed_in or session.psu_id is None:
            raise AccessDenied("sign in first")
        decision = form.get("decision")
        if decision not in ("approve", "deny"):
            raise InvalidRequest("decision must be approve or deny")
        chosen = lists["account_id"]
        async with svc.db.session() as db:
            pending = await find_pending(
                db, client_id=form.get("client_id"), request_uri=form.get("request_uri"), session=session,
                require_started=True,
            )
            consent = await pending_consent(db, pending, psu_id=session.psu_id)
            step: ConsentStep | None = None
            if consent is not None and is_reauthentication(consent):
                # Approve re-authorises the consent as it is; Deny leaves it as it was (the dashboard revokes).
                step = reauthorise_step(pending, consent, psu_id=session.psu_id) if decision == "approve" else None
            elif consent is not None and decision == "approve":
                accounts = await customer_accounts(svc, session.psu_id)
                if not chosen:
                    return await consent_page(
                        request, pending, session, services=svc, consent=consent, accounts=accounts,
                        message="Choose at least one account." if consent.kind == ConsentKind.ACCOUNT_ACCESS
                        else "Choose an account.", status_code=400,
                    )
                step = authorise_step(pending, consent, psu_id=session.psu_id, chosen=chosen, accounts=accounts)
            elif consent is not None:
                step = reject_step(pending, consent, psu_id=session.psu_id)
            try:
                location = await finish(db, pending=pending, psu_id=session.psu_id, auth_time=session.auth_time,
                                         approve=decision == "approve", services=svc, consent_step=step,
                                         amr=session.amr)
            except InvalidAccountSelection as exc:
                # Rolled back: the request is still pending, the consent still AwaitingAuthorisation.
                assert consent is not None
                return await consent_page(
                    request, pending, session, services=svc, consent=consent, chosen=[], message=exc.message,
                    status_code=400,
                )
            except ConsentError as exc:
                raise InvalidRequest("this consent can no longer be decided", detail=exc.detail) from None
    except OAuthError as exc:
        return error_page(request, exc, services=svc)
    response = RedirectResponse(
        location, status_code=303, headers=page_headers(form_origins=(origin(location),))
    )
    psu_session.save(response, session.without_pending(pending.handle_hash), request=request, services=svc)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/authorize", authorize, methods=["GET"], name="authorize"),
        Route("/login", sign_in, methods=["POST"], name="login"),
        Route("/authorize/decision", decide, methods=["POST"], name="authorize_decision"),
        Route("/sandbox/headless-authorize", headless_authorize, methods=["POST"], name="headless_authorize"),
    ]
