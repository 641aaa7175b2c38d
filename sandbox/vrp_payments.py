"""The bank's VRP payments API, answered only to the gateway (``x-obgw-context``, ``sandbox.context``).

OBIE VRP API v3.1.11 ``domestic-vrps`` (docs/obie-notes-vrp-events.md sections 1, 5 and 6); ``sandbox.vrp_ledger``
does the work. Contract (the gateway's VRP payment endpoints call it):

* ``POST /bank/v1/pisp/domestic-vrps`` ``{"ConsentId", "IdempotencyKey", "Initiation", "Instruction"}`` with a
  context ``purpose="pis"``, ``psu_id``, ``consent_id`` (= ``ConsentId``) and ``account_id`` (the debtor account,
  held by the customer) -> 201 ``{"Data": {...}}`` when executed now, 200 with the same payment when this
  (``ConsentId``, ``IdempotencyKey``) was executed before, 409 ``payment_conflict`` if the key comes with another
  Initiation or Instruction; 400 ``invalid_request`` (nothing executed) for an unreadable ``InstructedAmount`` or a
  currency that is not the debtor account's; 403 for another consent than the context's or someone else's
  account. A consent yields many payments. ``Data`` holds the members of ``OBDomesticVRPResponse.Data`` the bank
  knows: ``DomesticVRPId``, ``ConsentId``, ``CreationDateTime``, ``Status``, ``StatusReason`` and
  ``StatusReasonDescription`` when rejected, ``StatusUpdateDateTime``, ``ExpectedExecutionDateTime`` and
  ``ExpectedSettlementDateTime`` unless rejected, ``Initiation``, ``Instruction``, ``DebtorAccount``.
* ``GET /bank/v1/pisp/domestic-vrps/{DomesticVRPId}`` -> 200 ``{"Data"}`` (the same shape) and
  ``.../payment-details`` -> 200 ``{"Data": {"PaymentStatus": [...]}}`` (``OBDomesticVRPDetails``): context
  ``purpose="pis"`` whose ``consent_id`` is the payment's, else 404 as for an unknown payment.

Funds use ``GET /bank/v1/accounts/{AccountId}/funds`` (``sandbox.payments``); the scenario controls (settle,
reject, reject-next) are ``sandbox.payments`` and ``sandbox.scenarios``.
"""

from __future__ import annotations

from typing import Any
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import bodies
from sandbox import vrp_ledger
from sandbox.errors import Forbidden
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.models import Account
from sandbox.models import VrpPayment
from sandbox.payments import PaymentConflict
from sandbox.payments import claim
from sandbox.payments import context_claims
from sandbox.payments import held_account
from sandbox.payments import payments_state
from sandbox.payments import respond
from sandbox.payments import retrying
from sandbox.services import services

PATH: Final = "/bank/v1/pisp/domestic-vrps"
MAX_KEY_LENGTH: Final = 128


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be an object", field=name, rule="object")
    return value


async def create(request: Request) -> JSONResponse:
    claims = context_claims(request, "pis")
    psu_id, consent_id, account_id = (claim(claims, n) for n in ("psu_id", "consent_id", "account_id"))
    body = await bodies.json_object(request, limit=services(request).settings.max_body_bytes)
    if body.get("ConsentId") != consent_id:
        raise Forbidden("ConsentId is not the consent the context names")
    key = body.get("IdempotencyKey")
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest("IdempotencyKey is required", field="IdempotencyKey", rule="required")
    initiation, instruction = _object(body, "Initiation"), _object(body, "Instruction")
    state = payments_state(request.app)
    db = services(request).db

    async def run() -> tuple[dict[str, Any], bool]:
        async with db.session() as session:
            account = await held_account(session, psu_id=psu_id, account_id=account_id)
            try:
                payment, created = await vrp_ledger.execute(
                    session, consent_id=consent_id, idempotency_key=key, psu_id=psu_id, account=account,
                    initiation=initiation, instruction=instruction, now=state.clock.now(), rules=state.rules,
                )
            except vrp_ledger.PaymentConflict as exc:
                raise PaymentConflict(str(exc)) from None
            except vrp_ledger.PaymentInputError as exc:
                raise InvalidRequest(str(exc), field=exc.field, rule="payment") from None
            # Rendered in the session: a lost race rolls it back, which expires what was loaded before.
            await session.refresh(account)
            return vrp_ledger.render(payment, account=account), created

    data, created = await retrying(run)
    return respond(data, status_code=201 if created else 200)


async def _visible(request: Request) -> tuple[VrpPayment, Account | None]:
    consent_id = claim(context_claims(request, "pis"), "consent_id")
    payment_id = request.path_params["payment_id"]
    state = payments_state(request.app)
    db = services(request).db

    async def run() -> tuple[VrpPayment, Account | None]:
        async with db.session() as session:
            await vrp_ledger.advance(session, now=state.clock.now(), rules=state.rules, payment_id=payment_id)
            payment = await vrp_ledger.find(session, payment_id=payment_id)
            if payment is None or payment.consent_id != consent_id:
                # Another consent's payment answers like an unknown one.
                raise NotFound("no such payment under this consent")
            return payment, await session.get(Account, payment.debtor_account_id)

    return await retrying(run)


async def read(request: Request) -> JSONResponse:
    payment, account = await _visible(request)
    return respond(vrp_ledger.render(payment, account=account))


async def details(request: Request) -> JSONResponse:
    payment, _ = await _visible(request)
    return respond(vrp_ledger.render_details(payment))


def routes() -> list[BaseRoute]:
    """Mounted before ``sandbox.payments.routes()``, whose ``/bank/v1/pisp/{collection}`` would answer 404."""
    return [
        Route(PATH, create, methods=["POST"]),
        Route(f"{PATH}/{{payment_id:str}}", read, methods=["GET"]),
        Route(f"{PATH}/{{payment_id:str}}/payment-details", details, methods=["GET"]),
    ]
