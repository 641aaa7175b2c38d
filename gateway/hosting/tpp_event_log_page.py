"""The TPP developer's page of its event delivery log, with replay (sandbox mode only; docs/architecture.md
section 7, "Log, replay, metrics"). The sandbox portal links to it; the gateway hosts it.

Why the gateway hosts it: the portal (``sandbox.portal``) has no developer accounts and keeps nothing that
proves who a developer is: it returns a generated private key once and stores only the public JWKS, and the
``client_id`` is issued by the gateway at registration, which the portal never sees. The one party that knows
which client a developer is, and can check it, is the gateway's authorization server. So a developer signs in
here the way its software authenticates at the token endpoint: a ``private_key_jwt`` client assertion (RFC 7523
section 2.2: ``iss`` = ``sub`` = ``client_id``, ``aud`` the issuer, short-lived, its ``jti`` single use) signed
with a key of the client's registered JWKS, checked by ``gateway.oauth.client_auth.authenticate_client`` (an
assertion already used at the token endpoint is refused here, and the other way round). The page then shows
that client's events only, read and replayed through what the JSON API uses (``gateway.events.outbox``,
``gateway.hosting.tpp_event_log.replay_for``): the same source of truth, no copy.

* ``GET /sandbox/v1/event-log``: the sign-in form, or the signed-in client's subscription and events (newest
  first, at most 100): type, resource, time, state, attempts, next attempt, last error, delivery time, and every
  attempt (channel, callback URL, outcome, HTTP status, latency, error, replay).
* ``POST /sandbox/v1/event-log/sign-in`` ``client_assertion``; ``POST /sandbox/v1/event-log/sign-out``.
* ``POST /sandbox/v1/event-log/replay`` ``jti``, or ``since`` and/or ``until`` (ISO 8601 with a time zone):
  the client's matching events are due again with their own ``jti``. Another client's ``jti`` answers like an
  unknown one (400 ``UK.OBIE.Resource.NotFound``), a bad range 400 ``UK.OBIE.Field.Invalid`` or
  ``UK.OBIE.Field.InvalidDate``; neither changes anything.

The session is a cookie (``HttpOnly``, ``SameSite=Strict``, path the page, ``Secure`` under https) signed with
``itsdangerous`` under the server secret, holding the client id and a CSRF token for 15 minutes; a client suspended meanwhile is signed out at its next
request. Every POST is
CSRF-checked (synchronizer token, OWASP CSRF Prevention Cheat Sheet; a missing or wrong token is 403 and
changes nothing); sign-in issues a new token. Pages carry the customer pages' headers (CSP, no framing, no-store).
Only ``private_key_jwt`` clients can sign in (a ``tls_client_auth`` client's browser presents no certificate).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final

from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlmodel import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from gateway import errors
from gateway.events import outbox
from gateway.hosting.tpp_event_log import DEFAULT_LIMIT
from gateway.hosting.tpp_event_log import moment
from gateway.hosting.tpp_event_log import replay_for
from gateway.oauth.authorize_pages import page_headers
from gateway.oauth.client_auth import ASSERTION_TYPE
from gateway.oauth.client_auth import authenticate_client
from gateway.security.client_keys import get_client
from gateway.services import Services
from gateway.services import services
from gateway.settings import Settings
from gateway.store.event_tables import EventSubscription

PAGE: Final = "/sandbox/v1/event-log"
COOKIE_NAME: Final = "obgw_tpp_event_log"
SESSION_LIFETIME: Final = 900
TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
_SALT: Final = "obgw tpp event log page session"


@dataclass(frozen=True, kw_only=True)
class PageSession:
    csrf: str
    client_id: str | None = None


def _serializer(found: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(found.secret, salt=_SALT)


def _load(request: Request, found: Services) -> PageSession | None:
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or len(raw) > 2048:
        return None
    try:
        data = _serializer(found).loads(raw, max_age=SESSION_LIFETIME)
    except BadSignature:  # also an expired one (SignatureExpired)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    client_id = data.get("client_id")
    return PageSession(csrf=data["csrf"], client_id=client_id if isinstance(client_id, str) else None)


async def _current(request: Request, found: Services) -> PageSession | None:
    """The browser's session, signed out when its client is no longer active (suspended since it signed in)."""
    session = _load(request, found)
    if session is None or session.client_id is None:
        return session
    async with found.db.session() as db_session:
        client = await get_client(db_session, session.client_id)
    if client is None or client.status != "active":
        return PageSession(csrf=session.csrf)
    return session


def _save(response: Response, session: PageSession, found: Services) -> None:
    value = _serializer(found).dumps({"csrf": session.csrf, "client_id": session.client_id})
    response.set_cookie(COOKIE_NAME, value, max_age=SESSION_LIFETIME, path=PAGE, httponly=True, samesite="strict",
                        secure=found.settings.issuer.startswith("https://"))


def _check_csrf(session: PageSession | None, form: FormData) -> PageSession:
    submitted = form.get("csrf_token")
    if session is None or not isinstance(submitted, str) or not submitted \
            or not hmac.compare_digest(session.csrf.encode(), submitted.encode()):
        raise errors.Forbidden("the form's security token is missing, expired or wrong: reload the page")
    return session


def _problem(exc: errors.GatewayError) -> dict[str, str]:
    if isinstance(exc, errors.ObError):
        return {"code": exc.errors[0].code, "message": exc.errors[0].message}
    if isinstance(exc, errors.OAuthError):
        return {"code": exc.error, "message": exc.message}
    return {"code": type(exc).__name__, "message": exc.message}


def _optional(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def routes(settings: Settings) -> list[BaseRoute]:
    if not settings.is_sandbox:
        return []
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    async def render(request: Request, session: PageSession, *, status_code: int = 200,
                     problem: dict[str, str] | None = None, replayed: list[str] | None = None) -> Response:
        found = services(request)
        context: dict[str, Any] = {"page": PAGE, "csrf_token": session.csrf, "client_id": session.client_id,
                                   "issuer": found.settings.issuer, "problem": problem, "replayed": replayed,
                                   "events": [], "subscription": None, "limit": DEFAULT_LIMIT}
        if session.client_id is not None:
            context["events"] = await outbox.delivery_log(db=found.db, client_id=session.client_id,
                                                          limit=DEFAULT_LIMIT)
            async with found.db.session() as db_session:
                context["subscription"] = (await db_session.exec(
                    select(EventSubscription).where(EventSubscription.client_id == session.client_id))).first()
        response = templates.TemplateResponse(request, "tpp_event_log.html", context, status_code=status_code,
                                              headers=page_headers())
        _save(response, session, found)
        return response

    async def read_form(request: Request) -> FormData:
        # The body's size is bounded for the whole app (gateway.hosting.body_limit, OBGW_MAX_FORM_BYTES).
        return await request.form(max_files=0, max_fields=8)

    async def view(request: Request) -> Response:
        found = services(request)
        return await render(request, await _current(request, found) or PageSession(csrf=secrets.token_urlsafe(32)))

    async def sign_in(request: Request) -> Response:
        found = services(request)
        loaded = _load(request, found)
        session = loaded or PageSession(csrf=secrets.token_urlsafe(32))
        try:
            form = await read_form(request)
            _check_csrf(loaded, form)
            assertion = form.get("client_assertion")
            if not isinstance(assertion, str) or not assertion.strip():
                raise errors.FieldInvalid("paste a client assertion signed with your client's key",
                                          path="client_assertion")
            client = (await authenticate_client(
                request, {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion.strip()},
                services=found)).client
        except errors.GatewayError as exc:
            return await render(request, PageSession(csrf=session.csrf), status_code=exc.status_code,
                                problem=_problem(exc))
        # A new CSRF token at sign-in: one seen before it is worth nothing after it.
        return await render(request, PageSession(csrf=secrets.token_urlsafe(32), client_id=client.client_id))

    async def replay(request: Request) -> Response:
        found = services(request)
        current = await _current(request, found)
        session = current or PageSession(csrf=secrets.token_urlsafe(32))
        try:
            form = await read_form(request)
            _check_csrf(current, form)
            if session.client_id is None:
                raise errors.Forbidden("sign in to replay your events")
            replayed = await replay_for(
                db=found.db, client_id=session.client_id, jti=_optional(form, "jti"),
                since=moment(_optional(form, "since"), name="since"),
                until=moment(_optional(form, "until"), name="until"),
            )
        except errors.GatewayError as exc:
            return await render(request, session, status_code=exc.status_code, problem=_problem(exc))
        return await render(request, session, replayed=replayed)

    async def sign_out(request: Request) -> Response:
        found = services(request)
        try:
            _check_csrf(_load(request, found), await read_form(request))
        except errors.GatewayError as exc:
            return await render(request, PageSession(csrf=secrets.token_urlsafe(32)), status_code=exc.status_code,
                                problem=_problem(exc))
        response = RedirectResponse(PAGE, status_code=303, headers=page_headers())
        response.delete_cookie(COOKIE_NAME, path=PAGE)
        return response

    return [
        Route(PAGE, view, methods=["GET"]),
        Route(f"{PAGE}/sign-in", sign_in, methods=["POST"]),
        Route(f"{PAGE}/replay", replay, methods=["POST"]),
        Route(f"{PAGE}/sign-out", sign_out, methods=["POST"]),
    ]
