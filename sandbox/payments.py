"""The bank's payments API, answered only to the gateway (``x-obgw-context``, ``sandbox.context``).

Contract (the gateway's payment-order endpoints call it; ``sandbox.payments_ledger`` does the work):

* ``POST /bank/v1/pisp/domestic-payments`` (also ``domestic-scheduled-payments``, ``domestic-standing-orders``)
  ``{"ConsentId", "IdempotencyKey", "Initiation"}`` with a context ``purpose="pis"``, ``psu_id``,
  ``consent_id`` (= ``ConsentId``) and ``account_id`` (the debtor account, held by the customer) ->
  201 ``{"Data": {...}}`` when executed now, 200 with the same payment when this consent was executed before
  (at most once per consent), 409 ``payment_conflict`` if the Initiation differs from that execution.
  ``Data`` is close to ``OBWriteDomesticResponse5.Data`` (``Status``, ``StatusDetail`` when rejected).
* ``GET /bank/v1/pisp/{collection}/{PaymentId}`` and ``.../payment-details`` (``OBWritePaymentDetailsResponse1``
  ``Data``): context ``purpose="pis"`` whose ``consent_id`` is the payment's.
* ``GET /bank/v1/accounts/{AccountId}/funds?amount=&currency=``: context ``purpose`` ``pis`` or ``cbpii``, with
  ``psu_id`` and ``account_id`` = the path's -> ``{"Data": {"FundsAvailable", "FundsAvailableDateTime"}}``.
* Scenario controls (sandbox only, context ``purpose="scenario"``): ``POST /bank/v1/sandbox/clock``
  ``{"advance_seconds"}`` moves the payments clock (payment orders and VRP payments, ``sandbox.vrp_ledger``, alike);
  ``POST /bank/v1/sandbox/payments/{PaymentId}/settle`` runs every remaining step of one payment (or VRP payment)
  now.

The VRP payments API beside this one is ``sandbox.vrp_payments``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import time
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any
from typing import Final
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import bodies
from sandbox import payments_ledger as ledger
from sandbox import vrp_ledger
from sandbox.context import CONTEXT_HEADER
from sandbox.errors import Forbidden
from sandbox.errors import InvalidContext
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.errors import SandboxError
from sandbox.models import Account
from sandbox.models import AccountHolder
from sandbox.services import services
from sandbox.settings import SandboxSettings

PREFIX: Final = "/bank/v1/pisp"
COLLECTIONS: Final = {
    "domestic-payments": ledger.DOMESTIC,
    "domestic-scheduled-payments": ledger.SCHEDULED,
    "domestic-standing-orders": ledger.STANDING_ORDER,
}
_STATE: Final = "payments_ledger"
T = TypeVar("T")


class PaymentConflict(SandboxError):
    status_code = 409
    code = "payment_conflict"


class _Ledger:
    """The app's payments clock and rules (built at first use, kept on the app)."""

    def __init__(self, rules: ledger.PaymentRules) -> None:
        self.rules = rules
        self.clock = ledger.PaymentClock()


def _rules(settings: SandboxSettings) -> ledger.PaymentRules:
    cut_off = settings.payment_cut_off
    return ledger.PaymentRules(
        step_seconds=settings.payment_step_seconds,
        max_amount=Decimal(settings.payment_max_amount),
        cut_off=time.fromisoformat(cut_off) if cut_off else None,
    )


def payments_state(app: Any) -> _Ledger:
    """The payments clock and rules of a sandbox app (tests and scenario hooks reach them here)."""
    found = getattr(app.state, _STATE, None)
    if found is None:
        found = _Ledger(_rules(app.state.sandbox.settings))
        setattr(app.state, _STATE, found)
    assert isinstance(found, _Ledger)
    return found


def context_claims(request: Request, *purposes: str) -> dict[str, Any]:
    claims = services(request).context.verify(request.headers.get(CONTEXT_HEADER))
    if claims.get("purpose") not in purposes:
        raise InvalidContext(f"context token purpose must be {' or '.join(purposes)}")
    return claims


def claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidContext(f"context token must name {name}")
    return value


async def retrying(operation: Callable[[], Awaitable[T]]) -> T:
    """SQLite refuses a writer whose snapshot went stale under concurrency ("database is locked"): try again."""
    for attempt in range(8):
        try:
            return await operation()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 7:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


async def held_account(session: Any, *, psu_id: str, account_id: str) -> Account:
    account = (
        await session.exec(
            select(Account)
            .join(AccountHolder, AccountHolder.account_id == Account.account_id)  # type: ignore[arg-type]
            .where(AccountHolder.psu_id == psu_id, Account.account_id == account_id)
        )
    ).first()
    if account is None:
        # Same answer for unknown and someone else's account: no enumeration.
        raise Forbidden("the debtor account is not the customer's")
    return account  # type: ignore[no-any-return]


def respond(data: dict[str, Any], *, status_code: int = 200) -> JSONResponse:
    return JSONResponse({"Data": data}, status_code=status_code, headers={"cache-control": "no-store"})


async def create(request: Request) -> JSONResponse:
    kind = COLLECTIONS[request.path_params["collection"]]
    claims = context_claims(request, "pis")
    psu_id, consent_id, account_id = (claim(claims, n) for n in ("psu_id", "consent_id", "account_id"))
    body = await bodies.json_object(request, limit=services(request).settings.max_body_bytes)
    if body.get("ConsentId") != consent_id:
        raise Forbidden("ConsentId is not the consent the context names")
    key, initiation = body.get("IdempotencyKey"), body.get("Initiation")
    if not isinstance(key, str) or not key or len(key) > 128:
        raise InvalidRequest("IdempotencyKey is required", field="IdempotencyKey", rule="required")
    if not isinstance(initiation, dict):
        raise InvalidRequest("Initiation must be an object", field="Initiation", rule="object")
    state = payments_state(request.app)
    db = services(request).db

    async def run() -> tuple[dict[str, Any], bool, str]:
        async with db.session() as session:
            account = await held_account(session, psu_id=psu_id, account_id=account_id)
            try:
                order, created = await ledger.execute(
                    session, kind=kind, consent_id=consent_id, idempotency_key=key, psu_id=psu_id,
                    account=account, initiation=initiation, now=state.clock.now(), rules=state.rules,
                )
            except ledger.PaymentConflict as exc:
                raise PaymentConflict(str(exc)) from None
            except ledger.PaymentInputError as exc:
                raise InvalidRequest(str(exc), field=exc.field, rule="payment") from None
            # Rendered in the session: a lost race rolls it back, which expires what was loaded before.
            await session.refresh(account)
            return ledger.render(order, account=account), created, order.kind

    data, created, executed_kind = await retrying(run)
    if executed_kind != kind:
        raise PaymentConflict("this consent was executed as another kind of payment")
    return respond(data, status_code=201 if created else 200)


async def _visible_order(request: Request) -> tuple[Any, Account | None]:
    kind = COLLECTIONS[request.path_params["collection"]]
    claims = context_claims(request, "pis")
    consent_id = claim(claims, "consent_id")
    payment_id = request.path_params["payment_id"]
    state = payments_state(request.app)
    db = services(request).db

    async def run() -> tuple[Any, Account | None]:
        async with db.session() as session:
            await ledger.advance(session, now=state.clock.now(), rules=state.rules, payment_id=payment_id)
            order = await ledger.find(session, payment_id=payment_id)
            if order is None or order.kind != kind or order.consent_id != consent_id:
                raise NotFound("no such payment under this consent")
            return order, await session.get(Account, order.debtor_account_id)

    return await retrying(run)


async def read(request: Request) -> JSONResponse:
    order, account = await _visible_order(request)
    return respond(ledger.render(order, account=account))


async def details(request: Request) -> JSONResponse:
    order, _ = await _visible_order(request)
    return respond(ledger.render_details(order))


async def funds(request: Request) -> JSONResponse:
    claims = context_claims(request, "pis", "cbpii")
    psu_id, account_id = claim(claims, "psu_id"), claim(claims, "account_id")
    if request.path_params["account_id"] != account_id:
        raise Forbidden("the context names another account")
    try:
        amount = Decimal(request.query_params.get("amount", ""))
    except InvalidOperation:
        raise InvalidRequest("amount must be a decimal", field="amount", rule="decimal") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidRequest("amount must be positive", field="amount", rule="positive")
    currency = request.query_params.get("currency", "")
    state = payments_state(request.app)
    db = services(request).db

    async def run() -> tuple[bool, str]:
        async with db.session() as session:
            account = await held_account(session, psu_id=psu_id, account_id=account_id)
            if currency != account.currency:
                raise InvalidRequest("currency is not the account's", field="currency", rule="currency")
            now = state.clock.now()
            await ledger.advance(session, now=now, rules=state.rules)
            await vrp_ledger.advance(session, now=now, rules=state.rules)
            available = await ledger.available_funds(session, account=account, now=now)
            await session.commit()
            return available >= amount, now.isoformat(timespec="seconds")

    available, at = await retrying(run)
    return respond({"FundsAvailable": available, "FundsAvailableDateTime": at})


async def advance_clock(request: Request) -> JSONResponse:
    context_claims(request, "scenario")
    body = await bodies.json_object(request, limit=services(request).settings.max_body_bytes)
    seconds = body.get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 366 * 86400:
        raise InvalidRequest("advance_seconds must be a number of seconds up to a year", field="advance_seconds",
                             rule="range")
    state = payments_state(request.app)
    now = state.clock.advance(seconds)

    async def run() -> int:
        async with services(request).db.session() as session:
            steps = await ledger.advance(session, now=now, rules=state.rules)
            return steps + await vrp_ledger.advance(session, now=now, rules=state.rules)

    steps = await retrying(run)
    return respond({"Now": now.isoformat(timespec="seconds"), "Steps": steps})


async def settle(request: Request) -> JSONResponse:
    context_claims(request, "scenario")
    payment_id = request.path_params["payment_id"]
    state = payments_state(request.app)

    async def run() -> dict[str, Any]:
        async with services(request).db.session() as session:
            now = state.clock.now()
            await ledger.advance(session, now=now, rules=state.rules, payment_id=payment_id, force=True)
            order = await ledger.find(session, payment_id=payment_id)
            if order is not None:
                return ledger.render(order)
            # A VRP payment (sandbox.vrp_ledger) settles the same way.
            await vrp_ledger.advance(session, now=now, rules=state.rules, payment_id=payment_id, force=True)
            payment = await vrp_ledger.find(session, payment_id=payment_id)
            if payment is None:
                raise NotFound("no such payment")
            return vrp_ledger.render(payment, account=await session.get(Account, payment.debtor_account_id))

    return respond(await retrying(run))


def routes() -> list[BaseRoute]:
    collection = "{collection:str}"
    return [
        Route(f"{PREFIX}/{collection}", _only_known(create), methods=["POST"]),
        Route(f"{PREFIX}/{collection}/{{payment_id:str}}", _only_known(read), methods=["GET"]),
        Route(f"{PREFIX}/{collection}/{{payment_id:str}}/payment-details", _only_known(details), methods=["GET"]),
        Route("/bank/v1/accounts/{account_id:str}/funds", funds, methods=["GET"]),
        Route("/bank/v1/sandbox/clock", advance_clock, methods=["POST"]),
        Route("/bank/v1/sandbox/payments/{payment_id:str}/settle", settle, methods=["POST"]),
    ]


def _only_known(endpoint: Callable[[Request], Awaitable[JSONResponse]]) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def guarded(request: Request) -> JSONResponse:
        if request.path_params["collection"] not in COLLECTIONS:
            raise NotFound("no such payments collection")
        return await endpoint(request)

    return guarded
