"""Bank-side scenario controls a partner's tests reach through the gateway (docs/architecture.md sections 1 and 5).

Sandbox only, answered only to the gateway: every call needs a gateway-signed context with
``purpose="scenario"`` (``sandbox.context``). The gateway's ``/sandbox/v1/...`` controls check that the payment
is the calling TPP's before they come here.

* ``POST /bank/v1/sandbox/payments/{PaymentId}/reject`` turns a payment that has not started settling
  (``Pending``, or ``InitiationPending`` for scheduled payments and standing orders) into ``Rejected``
  (``InitiationFailed``) with ``StatusReason`` ``UK.OBIE.Rules.FailsControlParameters``, and releases its pending
  debit, as a bank's own risk control would (R/W API v3.1.11 payment status model, docs/obie-notes.md section 9). A payment
  already settling or final answers 409 ``payment_not_pending``. A VRP payment (``sandbox.vrp_ledger``) is
  rejected the same way, with the VRP ``StatusReason`` ``UK.OBIE.OtherReason`` (OBIE VRP API v3.1.11
  ``OBVRPStatusReasonCode``) and a description naming the bank's controls.
* ``POST /bank/v1/sandbox/consents/{ConsentId}/reject-next`` arms a one-shot for a VRP consent: the next VRP
  payment under it is created ``Rejected`` (``UK.OBIE.OtherReason``, the bank's own risk controls) and moves no
  money; later ones are decided as usual. Arming again before it is used still rejects one payment. The armed
  control is a row of ``sandbox_vrp_reject_next`` (the bank's database, not process memory), used up in the
  rejected payment's own transaction. Answers ``{"Data": {"ConsentId", "RejectNext": true}}``; the bank does not
  know consents, so the gateway's control checks the consent is the TPP's own Authorised VRP consent first.

Settling now is ``sandbox.payments`` (``POST /bank/v1/sandbox/payments/{PaymentId}/settle``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Final

from sqlalchemy import delete
from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import ais_catalogue as catalogue
from sandbox import payments_ledger as ledger
from sandbox import vrp_ledger
from sandbox.context import CONTEXT_HEADER
from sandbox.errors import InvalidContext
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.errors import SandboxError
from sandbox.ledger_store import store_balances
from sandbox.models import Account
from sandbox.models import LedgerEntry
from sandbox.models import PaymentOrder
from sandbox.payments import payments_state
from sandbox.services import services

MAX_CONSENT_ID_LENGTH: Final = 128
REJECT_REASON: Final = "UK.OBIE.Rules.FailsControlParameters"
REJECT_DESCRIPTION: Final = "Rejected by the bank's controls (sandbox scenario control)"
# Only a payment that has not started settling can still be refused by the bank.
_REJECTABLE: Final = {ledger.PENDING: ledger.REJECTED, ledger.INITIATION_PENDING: ledger.INITIATION_FAILED}


class PaymentNotPending(SandboxError):
    status_code = 409
    code = "payment_not_pending"


def _scenario_context(request: Request) -> None:
    claims = services(request).context.verify(request.headers.get(CONTEXT_HEADER))
    if claims.get("purpose") != "scenario":
        raise InvalidContext("context token purpose must be scenario")


async def reject(request: Request) -> JSONResponse:
    _scenario_context(request)
    payment_id = request.path_params["payment_id"]
    now = payments_state(request.app).clock.now()
    async with services(request).db.session() as session:
        order = await session.get(PaymentOrder, payment_id)
        if order is None:
            return await _reject_vrp(session, payment_id=payment_id, now=now)
        target = _REJECTABLE.get(order.status)
        if target is None:
            raise PaymentNotPending(f"payment is {order.status}: only a payment not yet settling can be rejected")
        # Compare-and-set on the status: a settlement step racing with this call wins or loses cleanly.
        claimed = await session.execute(
            update(PaymentOrder)
            .where(col(PaymentOrder.payment_id) == payment_id, col(PaymentOrder.status) == order.status)
            .values(status=target, status_reason=REJECT_REASON, status_reason_description=REJECT_DESCRIPTION,
                    status_updated_at=now, next_step_at=None)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            await session.rollback()
            raise PaymentNotPending("payment changed status meanwhile: read it again")
        if order.transaction_id is not None:
            # The pending debit goes: a rejected payment holds no money on the debtor account.
            await session.execute(
                delete(LedgerEntry).where(col(LedgerEntry.transaction_id) == order.transaction_id,
                                          col(LedgerEntry.status) == "Pending")
            )
            await session.execute(
                update(PaymentOrder).where(col(PaymentOrder.payment_id) == payment_id).values(transaction_id=None)
            )
            account = await session.get(Account, order.debtor_account_id)
            if account is not None:
                await store_balances(session, account=catalogue.spec_of(account), now=now)
        await session.commit()
        await session.refresh(order)
        account = await session.get(Account, order.debtor_account_id)
        data: dict[str, Any] = ledger.render(order, account=account)
    return JSONResponse({"Data": data}, headers={"cache-control": "no-store"})


async def _reject_vrp(session: Any, *, payment_id: str, now: datetime) -> JSONResponse:
    payment = await vrp_ledger.find(session, payment_id=payment_id)
    if payment is None:
        raise NotFound("no such payment")
    if payment.status != vrp_ledger.PENDING:
        raise PaymentNotPending(f"payment is {payment.status}: only a payment not yet settling can be rejected")
    if not await vrp_ledger.reject_pending(session, payment=payment, now=now):
        raise PaymentNotPending("payment changed status meanwhile: read it again")
    account = await session.get(Account, payment.debtor_account_id)
    return JSONResponse({"Data": vrp_ledger.render(payment, account=account)}, headers={"cache-control": "no-store"})


async def reject_next(request: Request) -> JSONResponse:
    _scenario_context(request)
    consent_id = request.path_params["consent_id"]
    if len(consent_id) > MAX_CONSENT_ID_LENGTH:
        raise InvalidRequest("ConsentId is too long", field="ConsentId", rule="length")
    now = payments_state(request.app).clock.now()
    async with services(request).db.session() as session:
        await vrp_ledger.arm_reject_next(session, consent_id=consent_id, now=now)
    return JSONResponse({"Data": {"ConsentId": consent_id, "RejectNext": True}}, headers={"cache-control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/bank/v1/sandbox/payments/{payment_id:str}/reject", reject, methods=["POST"]),
        Route("/bank/v1/sandbox/consents/{consent_id:str}/reject-next", reject_next, methods=["POST"]),
    ]
