"""Scenario controls for a partner's own tests (docs/architecture.md sections 1 and 5: sandbox mode only).

Mounted only when ``mode == "sandbox"`` and the sandbox switch ``headless_approval`` is on: in production, or
with the switch off, these paths do not exist (404). Every control is authenticated as the TPP with its own
client-credentials token (``require_access_token``, sender-constrained), so a TPP reaches only its own consents,
payments and tokens; someone else's consent or payment is indistinguishable from an unknown one.

* ``POST /sandbox/v1/consents/{ConsentId}/expire``: the consent is ``Expired`` now (as if its
  ``ExpirationDateTime`` had passed); the TPP's next call with it is refused like any expired consent.
* ``POST /sandbox/v1/consents/{ConsentId}/revoke``: the bank revokes the consent (and every token issued for it),
  as an operator would (``gateway.oauth.operators.revoke_consent``); payment consents cannot be revoked (PSD2 art. 80).
* ``POST /sandbox/v1/consents/{ConsentId}/reject-next-payment``: for an ``Authorised`` domestic VRP consent
  (OBIE VRP API v3.1.11; docs/obie-notes-vrp-events.md section 6), the bank creates the next VRP payment under it
  ``Rejected`` (``StatusReason`` ``UK.OBIE.OtherReason``, its own risk controls) and moves no money; one payment
  only. Another kind of consent is 400 ``UK.OBIE.Resource.ConsentMismatch``; a VRP consent not ``Authorised`` is
  400 ``UK.OBIE.Resource.InvalidConsentStatus``. The armed control is held by the bank.
* ``POST /sandbox/v1/payments/{PaymentId}/settle``: every remaining status step of the payment (a payment order
  or a VRP payment, ``gateway_vrp_payment``) happens now.
* ``POST /sandbox/v1/payments/{PaymentId}/reject``: the bank rejects a payment (or VRP payment) that has not
  started settling. For both, the status the bank answers with is the gateway's news too: stored, with one
  ``resource-update`` event for the payment when it changed (``gateway.events.payment_status``).
* ``POST /sandbox/v1/faults`` ``{"status": 429|503, "count": N}``: the TPP's next N calls to the Open Banking
  APIs (``/open-banking/``) answer 429 with ``Retry-After`` or 503 as an unavailable bank would;
  ``DELETE /sandbox/v1/faults`` disarms. Held in this process's memory (sandbox mode runs one process).
* ``POST /sandbox/v1/reset``: every consent of the TPP not yet final is ``Revoked`` (``Rejected`` if still
  awaiting authorisation; payment consents awaiting authorisation too), every token issued to the TPP (including
  the one that called reset) is revoked, and its armed faults are cleared. The client registration, its keys and
  its payment records at the bank stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final
from urllib.parse import quote

from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route
from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from consent import service as consent_service
from consent.errors import ConsentError
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from gateway import errors
from gateway.backend.upstream import upstream_error
from gateway.events import payment_status
from gateway.hosting.json_bodies import json_object
from gateway.oauth import operators
from gateway.security.access import AccessContext
from gateway.security.access import require_access_token
from gateway.services import services
from gateway.settings import Settings
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import secret_hash
from gateway.store.payment_tables import PaymentOrderRecord
from gateway.store.payment_tables import VrpPaymentRecord

PREFIX: Final = "/sandbox/v1"
FAULT_STATUSES: Final = (429, 503)
MAX_FAULT_COUNT: Final = 100
_FAULTS_STATE: Final = "sandbox_faults"
_GUARDED_PREFIX: Final = "/open-banking/"


def enabled(settings: Settings) -> bool:
    """Fail closed: controls exist only in sandbox mode with the sandbox switch on."""
    return settings.is_sandbox and settings.headless_approval


@dataclass
class Faults:
    """Armed faults per client: ``{client_id: [status, remaining]}``. Empty means the middleware does nothing."""

    armed: dict[str, list[int]] = field(default_factory=dict)

    def arm(self, *, client_id: str, status: int, count: int) -> None:
        self.armed[client_id] = [status, count]

    def clear(self, *, client_id: str) -> None:
        self.armed.pop(client_id, None)

    def take(self, *, client_id: str) -> int | None:
        """The status to answer this call with, counting it down; ``None`` when nothing is armed."""
        entry = self.armed.get(client_id)
        if entry is None:
            return None
        entry[1] -= 1
        if entry[1] <= 0:
            del self.armed[client_id]
        return entry[0]


def faults_of(app: Any) -> Faults:
    found = getattr(app.state, _FAULTS_STATE, None)
    if found is None:
        found = Faults()
        setattr(app.state, _FAULTS_STATE, found)
    assert isinstance(found, Faults)
    return found


async def _tpp(request: Request) -> AccessContext:
    return await require_access_token(request, services=services(request), grant_types=("client_credentials",))


async def _own_consent(request: Request, client_id: str) -> Consent:
    consent_id = request.path_params["consent_id"]
    async with services(request).db.session() as session:
        consent = await session.get(Consent, consent_id)
    if consent is None or consent.client_id != client_id or consent.status == ConsentStatus.DELETED:
        # Another TPP's consent answers like an unknown one: no enumeration.
        raise errors.ResourceNotFound(f"no consent {consent_id} of this client", path="ConsentId")
    return consent


def _consent_answer(consent_id: str, status: str) -> JSONResponse:
    return JSONResponse({"Data": {"ConsentId": consent_id, "Status": status}}, headers={"cache-control": "no-store"})


async def expire_consent(request: Request) -> Response:
    access = await _tpp(request)
    consent = await _own_consent(request, access.client.client_id)
    if consent.status != ConsentStatus.AUTHORISED:
        raise errors.InvalidConsentStatus(
            f"consent is {consent.status}: only an Authorised consent can be expired", path="ConsentId"
        )
    now = utcnow()
    async with services(request).db.session() as session:
        # Bring the ExpirationDateTime to now, then the ordinary expiry path (status + audit event) runs.
        await session.exec(
            update(Consent)
            .where(col(Consent.consent_id) == consent.consent_id, col(Consent.status) == ConsentStatus.AUTHORISED)
            .values(expires_at=now)
        )
        await session.commit()
        expired = await consent_service.expire_due(session=session, now=now)
    if consent.consent_id not in expired:
        raise errors.InvalidConsentStatus("consent changed status meanwhile: read it again", path="ConsentId")
    return _consent_answer(consent.consent_id, ConsentStatus.EXPIRED.value)


async def revoke_consent(request: Request) -> Response:
    access = await _tpp(request)
    consent = await _own_consent(request, access.client.client_id)
    try:
        await operators.revoke_consent(db=services(request).db, consent_id=consent.consent_id,
                                       operator=f"sandbox-scenario:{access.client.client_id}")
    except operators.OperatorError as exc:
        raise errors.InvalidConsentStatus(str(exc), path="ConsentId") from None
    return _consent_answer(consent.consent_id, ConsentStatus.REVOKED.value)


async def _bank_scenario(request: Request, path: str, *, payment: tuple[str, str] | None = None) -> Response:
    """Apply a bank scenario; for ``payment`` (collection, id) the status the bank answers with is learnt, and
    announced to the TPP as a resource-update event when it changed (``gateway.events.payment_status``)."""
    svc = services(request)
    response = await svc.bank.scenario(path=path)
    if response.status == 409:
        raise errors.InvalidConsentStatus(
            "the payment has already started settling or is final: only a Pending payment can be rejected",
            path="PaymentId",
        )
    if response.status != 200:
        raise upstream_error(502, "the bank did not apply the scenario", detail=f"{path}: {response.status}")
    answer = json.loads(response.body)
    if payment is not None:
        data = answer.get("Data") if isinstance(answer, dict) else None
        await payment_status.learn(db=svc.db, collection=payment[0], payment_id=payment[1],
                                   status=data.get("Status") if isinstance(data, dict) else None, at=utcnow(),
                                   txn=errors.interaction_id(request))
    return JSONResponse(answer, headers={"cache-control": "no-store"})


async def _own_payment(request: Request, client_id: str) -> tuple[str, str]:
    """The (collection, id) of this client's payment named in the path."""
    payment_id = request.path_params["payment_id"]
    async with services(request).db.session() as session:
        record: Any = None
        # A payment order or a VRP payment, as long as this client submitted it.
        for table in (PaymentOrderRecord, VrpPaymentRecord):
            record = record or (
                await session.exec(select(table).where(table.payment_id == payment_id, table.client_id == client_id))
            ).first()
    if record is None:
        raise errors.ResourceNotFound(f"no payment {payment_id} of this client", path="PaymentId")
    return record.kind, payment_id


async def settle_payment(request: Request) -> Response:
    access = await _tpp(request)
    payment = await _own_payment(request, access.client.client_id)
    return await _bank_scenario(request, f"/bank/v1/sandbox/payments/{payment[1]}/settle", payment=payment)


async def reject_payment(request: Request) -> Response:
    access = await _tpp(request)
    payment = await _own_payment(request, access.client.client_id)
    return await _bank_scenario(request, f"/bank/v1/sandbox/payments/{payment[1]}/reject", payment=payment)


async def reject_next_payment(request: Request) -> Response:
    access = await _tpp(request)
    consent = await _own_consent(request, access.client.client_id)
    if consent.kind != ConsentKind.DOMESTIC_VRP:
        raise errors.ResourceConsentMismatch(
            f"consent is a {consent.kind} consent: only a domestic VRP consent has a next payment to reject",
            path="ConsentId",
        )
    if consent.status != ConsentStatus.AUTHORISED:
        raise errors.InvalidConsentStatus(
            f"consent is {consent.status}: only an Authorised VRP consent yields payments", path="ConsentId"
        )
    path = f"/bank/v1/sandbox/consents/{quote(consent.consent_id, safe='')}/reject-next"
    response = await services(request).bank.scenario(path=path)
    if response.status != 200:
        raise upstream_error(502, "the bank did not apply the scenario", detail=f"{path}: {response.status}")
    return JSONResponse({"Data": {"ConsentId": consent.consent_id, "RejectNextPayment": True}},
                        headers={"cache-control": "no-store"})


async def arm_faults(request: Request) -> Response:
    access = await _tpp(request)
    body = await json_object(request)
    status, count = body.get("status"), body.get("count", 1)
    if status not in FAULT_STATUSES or isinstance(status, bool):
        raise errors.FieldInvalid("status must be 429 (rate limited) or 503 (bank unavailable)", path="status")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULT_COUNT:
        raise errors.FieldInvalid(f"count must be a whole number from 1 to {MAX_FAULT_COUNT}", path="count")
    faults_of(request.app).arm(client_id=access.client.client_id, status=status, count=count)
    return JSONResponse({"Data": {"Status": status, "Remaining": count}}, headers={"cache-control": "no-store"})


async def clear_faults(request: Request) -> Response:
    access = await _tpp(request)
    faults_of(request.app).clear(client_id=access.client.client_id)
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    access = await _tpp(request)
    client_id = access.client.client_id
    now = utcnow()
    revoked: list[str] = []
    rejected: list[str] = []
    db = services(request).db
    async with db.session() as session:
        consents = (await session.exec(select(Consent).where(Consent.client_id == client_id))).all()
        pending = [(c.consent_id, c.status) for c in consents]
    for consent_id, status in pending:
        if status == ConsentStatus.AUTHORISED:
            try:
                await operators.revoke_consent(db=db, consent_id=consent_id, operator=f"sandbox-reset:{client_id}")
                revoked.append(consent_id)
            except operators.OperatorError:
                pass  # payment consents cannot be revoked (PSD2 art. 80); their tokens go below
        elif status == ConsentStatus.AWAITING_AUTHORISATION:
            async with db.session() as session:
                try:
                    await consent_service.reject(session=session, consent_id=consent_id, client_id=client_id,
                                                 psu_id=None, now=now, reason="sandbox reset")
                    rejected.append(consent_id)
                except ConsentError:
                    await session.rollback()  # changed meanwhile: nothing left to reset
    async with db.session() as session:
        await session.exec(
            update(Token)
            .where(col(Token.client_id) == client_id, col(Token.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        await session.commit()
    faults_of(request.app).clear(client_id=client_id)
    return JSONResponse(
        {"Data": {"RevokedConsents": revoked, "RejectedConsents": rejected, "TokensRevoked": True}},
        headers={"cache-control": "no-store"},
    )


def routes(settings: Settings) -> list[BaseRoute]:
    if not enabled(settings):
        return []
    return [
        Route(f"{PREFIX}/consents/{{consent_id:str}}/expire", expire_consent, methods=["POST"]),
        Route(f"{PREFIX}/consents/{{consent_id:str}}/revoke", revoke_consent, methods=["POST"]),
        Route(f"{PREFIX}/consents/{{consent_id:str}}/reject-next-payment", reject_next_payment, methods=["POST"]),
        Route(f"{PREFIX}/payments/{{payment_id:str}}/settle", settle_payment, methods=["POST"]),
        Route(f"{PREFIX}/payments/{{payment_id:str}}/reject", reject_payment, methods=["POST"]),
        Route(f"{PREFIX}/faults", arm_faults, methods=["POST"]),
        Route(f"{PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{PREFIX}/reset", reset, methods=["POST"]),
    ]


class FaultInjectionMiddleware:
    """Answers an armed fault before the pipeline runs. Unarmed (the usual case): one dict check per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_GUARDED_PREFIX):
            await self.app(scope, receive, send)
            return
        faults = faults_of(scope["app"])
        if not faults.armed:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        status = await self._armed_status(request, faults)
        if status is None:
            await self.app(scope, receive, send)
            return
        error: errors.ObError = (
            errors.TooManyRequests("sandbox scenario control: this call is rate limited", retry_after=1)
            if status == 429
            else upstream_error(503, "sandbox scenario control: the bank is unavailable")
        )
        await errors.render(error, interaction=errors.interaction_id(request))(scope, receive, send)

    @staticmethod
    async def _armed_status(request: Request, faults: Faults) -> int | None:
        _, _, value = request.headers.get("authorization", "").partition(" ")
        if not value.strip():
            return None
        async with services(request).db.session() as session:
            client_id = (
                await session.exec(select(Token.client_id).where(Token.token_hash == secret_hash(value.strip())))
            ).first()
        if client_id is None:
            return None
        return faults.take(client_id=client_id)


def middleware(settings: Settings) -> list[Middleware]:
    """The fault switch, innermost of the app's middleware (after the interaction id is set); none in production."""
    return [Middleware(FaultInjectionMiddleware)] if enabled(settings) else []
