"""The authorization endpoint and the bank's customer pages: ``GET /authorize`` (RFC 6749 section 3.1),
``POST /login``, ``POST /authorize/decision``, and the sandbox-only headless approval route.

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
page again with a message and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import service as consent_service
from consent.bank import AccountSummary
from consent.errors import ConsentError
from consent.errors import InvalidAccountSelection
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.pages import consent_page_view
from consent.pages import render_consent_page
from gateway.backend.bank import BankUnavailable
from gateway.errors import AccessDenied
from gateway.errors import InvalidRequest
from gateway.errors import InvalidRequestUri
from gateway.errors import NotFound
from gateway.errors import OAuthError
from gateway.errors import TemporarilyUnavailable
from gateway.oauth import psu_session
from gateway.oauth.par import handle_of
from gateway.oauth.psu_session import PsuSession
from gateway.oauth.token import read_form
from gateway.oauth.token import read_form_lists
from gateway.security.sign_in_throttle import SignInThrottled
from gateway.security.sign_in_throttle import client_address
from gateway.services import Services
from gateway.services import services as get_services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import AuthorizationCode
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import PushedRequest
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash

# FAPI 2.0 SP section 5.3.2.2: authorization codes live at most 60 seconds, whatever the setting says.
MAX_CODE_LIFETIME = 60

SCOPE_WORDS = {
    "openid": "Confirm to them who you are at this bank",
    "accounts": "See your account details, balances and transactions",
    "payments": "Make payments from your account that you approve",
    "fundsconfirmations": "Check whether your account has enough money for a payment",
}


class _Pending:
    """A pushed request found for this browser, with the client that pushed it."""

    def __init__(self, row: PushedRequest, client: Client, handle_hash: str, request_uri: str) -> None:
        self.row = row
        self.client = client
        self.handle_hash = handle_hash
        self.request_uri = request_uri

    @property
    def params(self) -> dict[str, Any]:
        return self.row.params


# --------------------------------------------------------------------------- page plumbing


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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error_page(request: Request, exc: OAuthError, *, services: Services) -> Response:
    return services.templates.TemplateResponse(
        request,
        "error.html",
        {"error": exc.error, "description": exc.message or "The request cannot be completed."},
        status_code=exc.status_code,
        headers=page_headers(),
    )


def _page(request: Request, name: str, context: dict[str, Any], *, services: Services, pending: _Pending,
          status_code: int = 200) -> Response:
    return services.templates.TemplateResponse(
        request, name, context, status_code=status_code,
        headers=page_headers(form_origins=(_origin(pending.params["redirect_uri"]),)),
    )


ConsentStep = Callable[[AsyncSession], Awaitable[None]]


async def _pending_consent(db: AsyncSession, pending: _Pending) -> Consent | None:
    """The consent the pushed request names, if it can still be authorised; ``None`` when it names none.

    PAR checked it, but the TPP may have deleted it, or another authorization decided it, since then.
    """
    intent_id = pending.params.get("intent_id")
    if not intent_id:
        return None
    consent = await db.get(Consent, intent_id)
    if consent is None or consent.client_id != pending.client.client_id:
        raise InvalidRequest("the consent of this request no longer exists")
    if consent.status != ConsentStatus.AWAITING_AUTHORISATION:
        # docs/obie-notes.md section 3.1: a decided consent takes no new authorization.
        raise InvalidRequest("this consent has already been decided")
    if consent.expires_at is not None and consent.expires_at <= utcnow():
        raise InvalidRequest("this consent has expired")
    return consent


async def _customer_accounts(services: Services, psu_id: str) -> list[AccountSummary]:
    try:
        return await services.bank.accounts(psu_id=psu_id)
    except BankUnavailable:
        raise TemporarilyUnavailable("The bank cannot show your accounts right now. Please try again later.") from None


async def _consent_page(request: Request, pending: _Pending, session: PsuSession, *, services: Services,
                        consent: Consent | None, accounts: Sequence[AccountSummary] | None = None,
                        chosen: Sequence[str] = (), message: str | None = None, status_code: int = 200) -> Response:
    """The consent page (``consent.pages``): who asks for what, the accounts to choose, Approve and Deny."""
    if accounts is None:
        assert session.psu_id is not None
        accounts = await _customer_accounts(services, session.psu_id) if consent is not None else []
    scopes = pending.params["scope"].split()
    view = consent_page_view(
        consent=consent,
        client_name=pending.client.client_name or pending.client.client_id,
        accounts=accounts,
        customer_name=session.name,
        action="/authorize/decision",
        hidden={"csrf": session.csrf, "client_id": pending.client.client_id, "request_uri": _request_uri_of(pending)},
        identity_words=[SCOPE_WORDS["openid"]] if "openid" in scopes and consent is None else [],
        chosen=chosen,
        message=message,
    )
    return render_consent_page(
        request, view, headers=page_headers(form_origins=(_origin(pending.params["redirect_uri"]),)),
        status_code=status_code,
    )


def _request_uri_of(pending: _Pending) -> str:
    return pending.request_uri


# --------------------------------------------------------------------------- pushed-request lookup


async def _find_pending(
    db: AsyncSession,
    *,
    client_id: object,
    request_uri: object,
    session: PsuSession | None,
    require_started: bool,
) -> _Pending:
    if not isinstance(client_id, str) or not isinstance(request_uri, str):
        raise InvalidRequestUri("client_id and request_uri are required")
    handle = handle_of(request_uri)
    if handle is None:
        raise InvalidRequestUri("request_uri is not one this server issued")
    handle_hash = secret_hash(handle)
    row = await db.get(PushedRequest, handle_hash)
    if row is None or row.client_id != client_id:
        # RFC 9126 section 4: the request_uri must have been pushed by this client_id.
        raise InvalidRequestUri("unknown request_uri for this client")
    if row.used_at is not None:
        raise InvalidRequestUri("request_uri already used")
    client = await db.get(Client, client_id)
    if client is None or client.status != "active":
        raise InvalidRequestUri("unknown request_uri for this client")
    now = int(time.time())
    started = session.pending_since(handle_hash) if session is not None else None
    in_window = started is not None and started > now - psu_session.INTERACTION_WINDOW
    if require_started and not in_window:
        raise InvalidRequestUri("this authorization was not started in this browser, or took too long")
    if not in_window and row.expires_at <= utcnow():
        # RFC 9126 section 2.2: expires_in bounds when the request_uri may first be presented.
        raise InvalidRequestUri("request_uri expired")
    return _Pending(row, client, handle_hash, request_uri)


async def _finish(db: AsyncSession, *, pending: _Pending, psu_id: str, auth_time: int | None, approve: bool,
                  services: Services, consent_step: ConsentStep | None = None) -> str:
    """Use up the pushed request and build the redirect back to the client (RFC 6749 section 4.1.2).

    ``consent_step`` authorises or rejects the consent in ``db``; the consent service commits it together with
    the used-up request and the code, or rolls all of them back when it refuses.
    """
    now = utcnow()
    result = await db.execute(
        update(PushedRequest)
        .where(col(PushedRequest.handle_hash) == pending.handle_hash, col(PushedRequest.used_at).is_(None))
        .values(used_at=now, psu_id=psu_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # RFC 9126 section 4: one authorization per request_uri, even under concurrent submissions.
        raise InvalidRequestUri("request_uri already used")
    params = pending.params
    response: dict[str, str] = {}
    if approve:
        code = new_secret()
        lifetime = min(services.settings.code_lifetime, MAX_CODE_LIFETIME)
        db.add(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=pending.client.client_id,
                redirect_uri=params["redirect_uri"],
                scope=params["scope"],
                code_challenge=params["code_challenge"],
                dpop_jkt=pending.row.dpop_jkt,
                psu_id=psu_id,
                consent_id=params.get("intent_id"),
                nonce=params.get("nonce"),
                claims={"claims": params.get("claims") or {},
                        "authorization_details": params.get("authorization_details") or []},
                auth_time=now if auth_time is None else _from_ts(auth_time),
                expires_at=now + timedelta(seconds=lifetime),
            )
        )
        response["code"] = code
    else:
        response["error"] = "access_denied"
        response["error_description"] = "The customer declined the request"
    if params.get("state"):
        response["state"] = params["state"]
    # RFC 9207 section 2: the issuer identifies who answers, against mix-up attacks.
    response["iss"] = services.settings.issuer
    if consent_step is not None:
        await consent_step(db)
    await db.commit()
    return _with_query(params["redirect_uri"], response)


def _from_ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# --------------------------------------------------------------------------- handlers


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
            pending = await _find_pending(
                db, client_id=request.query_params.get("client_id"),
                request_uri=request.query_params.get("request_uri"), session=session, require_started=False,
            )
    except OAuthError as exc:
        return _error_page(request, exc, services=svc)
    session = session.with_pending(pending.handle_hash, now=int(time.time()))
    if session.signed_in:
        try:
            async with svc.db.session() as db:
                consent = await _pending_consent(db, pending)
            response = await _consent_page(request, pending, session, services=svc, consent=consent)
        except OAuthError as exc:
            return _error_page(request, exc, services=svc)
    else:
        response = _login_page(request, pending, session, services=svc)
    psu_session.save(response, session, request=request, services=svc)
    return response


def _login_page(request: Request, pending: _Pending, session: PsuSession, *, services: Services,
                message: str | None = None, status_code: int = 200) -> Response:
    return _page(
        request, "login.html",
        {"csrf": session.csrf, "client_id": pending.client.client_id, "request_uri": _request_uri_of(pending),
         "client_name": pending.client.client_name or pending.client.client_id, "message": message},
        services=services, pending=pending, status_code=status_code,
    )


async def sign_in(request: Request) -> Response:
    svc = get_services(request)
    try:
        form = await read_form(request)
        session = psu_session.load(request, services=svc)
        psu_session.check_csrf(session, form.get("csrf"))
        assert session is not None
        async with svc.db.session() as db:
            pending = await _find_pending(
                db, client_id=form.get("client_id"), request_uri=form.get("request_uri"), session=session,
                require_started=True,
            )
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password or len(username) > 128 or len(password) > 1024:
            return _login_page(request, pending, session, services=svc, status_code=401,
                               message="Enter your username and password.")
        address = client_address(request, settings=svc.settings)
        try:
            await svc.sign_in_throttle.check(username=username, address=address)
        except SignInThrottled as throttled:
            response = _login_page(request, pending, session, services=svc, status_code=429,
                                   message=str(throttled))
            response.headers["Retry-After"] = str(throttled.retry_after)
            return response
        try:
            psu = await svc.bank.authenticate(username=username, password=password)
        except BankUnavailable:
            raise TemporarilyUnavailable("The bank cannot sign you in right now. Please try again later.") from None
    except OAuthError as exc:
        return _error_page(request, exc, services=svc)
    if psu is None:
        await svc.sign_in_throttle.failed(username=username, address=address)
        return _login_page(request, pending, session, services=svc, status_code=401,
                           message="The username or password is not right.")
    signed_in = session.signed_in_as(psu_id=psu.psu_id, name=psu.name, now=int(time.time()))
    target = "/authorize?" + urlencode({"client_id": pending.client.client_id,
                                        "request_uri": _request_uri_of(pending)})
    response = RedirectResponse(target, status_code=303, headers=page_headers())
    psu_session.save(response, signed_in, request=request, services=svc)
    return response


def _authorise_step(pending: _Pending, consent: Consent, *, psu_id: str, chosen: list[str],
                    accounts: Sequence[AccountSummary]) -> ConsentStep:
    async def step(db: AsyncSession) -> None:
        await consent_service.authorise(
            session=db, consent_id=consent.consent_id, client_id=pending.client.client_id, psu_id=psu_id,
            account_ids=chosen, available_account_ids=[a.account_id for a in accounts], now=utcnow(),
        )
    return step


def _reject_step(pending: _Pending, consent: Consent, *, psu_id: str | None) -> ConsentStep:
    async def step(db: AsyncSession) -> None:
        # docs/obie-notes.md section 7: a declined authorisation leaves the consent Rejected.
        await consent_service.reject(session=db, consent_id=consent.consent_id, client_id=pending.client.client_id,
                                     psu_id=psu_id, now=utcnow(), reason="customer declined")
    return step


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
            pending = await _find_pending(
                db, client_id=form.get("client_id"), request_uri=form.get("request_uri"), session=session,
                require_started=True,
            )
            consent = await _pending_consent(db, pending)
            step: ConsentStep | None = None
            if consent is not None and decision == "approve":
                accounts = await _customer_accounts(svc, session.psu_id)
                if not chosen:
                    return await _consent_page(
                        request, pending, session, services=svc, consent=consent, accounts=accounts,
                        message="Choose at least one account." if consent.kind == ConsentKind.ACCOUNT_ACCESS
                        else "Choose an account.", status_code=400,
                    )
                step = _authorise_step(pending, consent, psu_id=session.psu_id, chosen=chosen, accounts=accounts)
            elif consent is not None:
                step = _reject_step(pending, consent, psu_id=session.psu_id)
            try:
                location = await _finish(db, pending=pending, psu_id=session.psu_id, auth_time=session.auth_time,
                                         approve=decision == "approve", services=svc, consent_step=step)
            except InvalidAccountSelection as exc:
                # Rolled back: the request is still pending, the consent still AwaitingAuthorisation.
                assert consent is not None
                return await _consent_page(
                    request, pending, session, services=svc, consent=consent, chosen=[], message=exc.message,
                    status_code=400,
                )
            except ConsentError as exc:
                raise InvalidRequest("this consent can no longer be decided", detail=exc.detail) from None
    except OAuthError as exc:
        return _error_page(request, exc, services=svc)
    response = RedirectResponse(
        location, status_code=303, headers=page_headers(form_origins=(_origin(location),))
    )
    psu_session.save(response, session.without_pending(pending.handle_hash), request=request, services=svc)
    return response


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
        pending = await _find_pending(db, client_id=form.get("client_id"), request_uri=form.get("request_uri"),
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
        consent = await _pending_consent(db, pending)
        step: ConsentStep | None = None
        if consent is not None and decision == "approve":
            accounts = await _customer_accounts(svc, psu.psu_id)
            chosen = _headless_accounts(consent, accounts, form.get("account_ids"))
            step = _authorise_step(pending, consent, psu_id=psu.psu_id, chosen=chosen, accounts=accounts)
        elif consent is not None:
            step = _reject_step(pending, consent, psu_id=psu.psu_id)
        try:
            location = await _finish(db, pending=pending, psu_id=psu.psu_id, auth_time=int(time.time()),
                                     approve=decision == "approve", services=svc, consent_step=step)
        except InvalidAccountSelection as exc:
            raise InvalidRequest(exc.message, detail=exc.detail) from None
        except ConsentError as exc:
            raise InvalidRequest("this consent can no longer be decided", detail=exc.detail) from None
    return JSONResponse({"redirect_to": location}, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/authorize", authorize, methods=["GET"], name="authorize"),
        Route("/login", sign_in, methods=["POST"], name="login"),
        Route("/authorize/decision", decide, methods=["POST"], name="authorize_decision"),
        Route("/sandbox/headless-authorize", headless_authorize, methods=["POST"], name="headless_authorize"),
    ]
