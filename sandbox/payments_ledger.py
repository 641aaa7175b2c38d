"""The sandbox bank's payments ledger: executing payment orders at most once and settling them on a clock.

R/W API v3.1.11 payment initiation (docs/obie-notes.md section 9): a domestic payment is created ``Pending`` (or ``Rejected``),
then moves ``AcceptedSettlementInProcess`` -> ``AcceptedSettlementCompleted`` (the debtor-side statuses of
``OBTransactionIndividualStatus1Code``). Scheduled payments and standing orders use ``InitiationPending`` ->
``InitiationCompleted`` | ``InitiationFailed``.

Money: accepting a domestic payment puts a Pending debit on the debtor account at once (so the available balance
and funds checks see it); settlement books it, with the running balances of later entries shifted, and the
account's balance rows recomputed, so the AIS endpoints show the payment. A scheduled payment is debited when its
``RequestedExecutionDateTime`` comes (or fails then for want of funds). A standing order is set up
(``InitiationCompleted``) after one step; its recurring debits are not posted by the sandbox.

Exactly once: ``PaymentOrder.consent_id`` is unique and the order row is inserted before anything is read, so
on SQLite the insert takes the write lock and concurrent calls for the same consent serialise: one executes, the
rest get that payment back. Elsewhere the debtor account row is locked (``FOR UPDATE``) before the funds check.

The clock is the bank's to control (scenario hook): ``PaymentClock`` adds an offset to real time; progression is
applied whenever the payments API, the funds check or the scenario hook is called.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any
from typing import Final

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from sandbox import ais_catalogue as catalogue
from sandbox.ledger_profiles import profile_for
from sandbox.ledger_store import store_balances
from sandbox.models import Account
from sandbox.models import AccountBalance
from sandbox.models import LedgerEntry
from sandbox.models import PaymentOrder

DOMESTIC: Final = "domestic-payment"
SCHEDULED: Final = "domestic-scheduled-payment"
STANDING_ORDER: Final = "domestic-standing-order"
KINDS: Final = (DOMESTIC, SCHEDULED, STANDING_ORDER)

PENDING: Final = "Pending"
IN_PROCESS: Final = "AcceptedSettlementInProcess"
COMPLETED: Final = "AcceptedSettlementCompleted"
REJECTED: Final = "Rejected"
INITIATION_PENDING: Final = "InitiationPending"
INITIATION_COMPLETED: Final = "InitiationCompleted"
INITIATION_FAILED: Final = "InitiationFailed"
FINAL: Final = frozenset({COMPLETED, REJECTED, INITIATION_COMPLETED, INITIATION_FAILED})

# Rejection reasons: the v3.1.11 namespaced code that fits, and v4.0's ISO AM04 for want of funds (docs/obie-notes.md section 6).
INSUFFICIENT_FUNDS: Final = "UK.OBIE.InsufficientFunds"
OVER_LIMIT: Final = "UK.OBIE.Rules.FailsControlParameters"
AFTER_CUT_OFF: Final = "UK.OBIE.Rules.AfterCutOffDateTime"
_DESCRIPTIONS: Final = {
    INSUFFICIENT_FUNDS: "AM04 InsufficientFunds: the debtor account cannot cover the amount",
    OVER_LIMIT: "The amount is above the bank's per-payment limit",
    AFTER_CUT_OFF: "Received after the bank's cut-off time for today",
}


class PaymentConflict(ValueError):
    """The consent was already executed with another Initiation: the bank will not execute a second payment."""


class PaymentInputError(ValueError):
    """The order cannot be read (amount, currency, dates); ``field`` names where."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True)
class PaymentRules:
    """The bank's payment policy: how long each status step takes, the largest single payment, the cut-off."""

    step_seconds: int = 5
    max_amount: Decimal = Decimal("25000.00")
    # Time of day (UTC) after which domestic payments are rejected; None: no cut-off.
    cut_off: time | None = None


@dataclass
class PaymentClock:
    """Real UTC time plus an offset the scenario hook moves forward."""

    offset: timedelta = field(default_factory=timedelta)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += timedelta(seconds=seconds)
        return self.now()


def request_hash(initiation: dict[str, Any]) -> str:
    canonical = json.dumps(initiation, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _amount_of(kind: str, initiation: dict[str, Any]) -> tuple[Decimal, str]:
    name = "FirstPaymentAmount" if kind == STANDING_ORDER else "InstructedAmount"
    return money_of(initiation.get(name), where=f"Initiation.{name}")


def money_of(money: Any, *, where: str) -> tuple[Decimal, str]:
    """An ``{"Amount", "Currency"}`` member as (positive amount, currency); ``PaymentInputError`` names what is
    wrong, at ``where``."""
    if not isinstance(money, dict):
        raise PaymentInputError(f"{where} is required", field=where)
    try:
        amount = Decimal(str(money.get("Amount")))
    except InvalidOperation:
        raise PaymentInputError("Amount is not a decimal", field=f"{where}.Amount") from None
    if not amount.is_finite() or amount <= 0:
        raise PaymentInputError("Amount must be positive", field=f"{where}.Amount")
    currency = money.get("Currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise PaymentInputError("Currency must be an ISO 4217 code", field=f"{where}.Currency")
    return amount, currency


def _when(initiation: dict[str, Any], name: str) -> datetime:
    raw = initiation.get(name)
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise PaymentInputError(f"{name} is not an ISO 8601 date-time", field=f"Initiation.{name}") from None
    if parsed.tzinfo is None:
        raise PaymentInputError(f"{name} needs a time zone", field=f"Initiation.{name}")
    return parsed.astimezone(UTC)


async def find(session: AsyncSession, *, payment_id: str) -> PaymentOrder | None:
    return await session.get(PaymentOrder, payment_id)


async def by_consent(session: AsyncSession, *, consent_id: str) -> PaymentOrder | None:
    return (await session.exec(select(PaymentOrder).where(PaymentOrder.consent_id == consent_id))).first()


async def available_funds(session: AsyncSession, *, account: Account, now: datetime) -> Decimal:
    """What the account can pay now: booked balance less pending debits, plus any credit limit."""
    spec = catalogue.spec_of(account)
    await store_balances(session, account=spec, now=now)
    row = await session.get(AccountBalance, (account.account_id, "InterimAvailable"))
    available = Decimal(row.amount) if row is not None else Decimal(account.opening_balance)
    limit = profile_for(spec).credit_limit
    return available + (limit or Decimal(0))


async def execute(
    session: AsyncSession,
    *,
    kind: str,
    consent_id: str,
    idempotency_key: str,
    psu_id: str,
    account: Account,
    initiation: dict[str, Any],
    now: datetime,
    rules: PaymentRules,
) -> tuple[PaymentOrder, bool]:
    """Execute the consent's payment once: ``(order, True)`` the first time, ``(same order, False)`` after.

    Raises ``PaymentConflict`` when the consent was executed with another Initiation, ``PaymentInputError`` for
    an unreadable order. Commits.
    """
    if kind not in KINDS:
        raise PaymentInputError(f"unknown payment kind {kind}", field="kind")
    amount, currency = _amount_of(kind, initiation)
    wanted = request_hash(initiation)
    existing = await _existing(session, consent_id=consent_id, wanted=wanted)
    if existing is not None:
        return existing, False
    execute_at = now
    if kind == SCHEDULED:
        execute_at = _when(initiation, "RequestedExecutionDateTime")
    elif kind == STANDING_ORDER:
        _when(initiation, "FirstPaymentDateTime")
    order = PaymentOrder(
        payment_id=f"{_PREFIX[kind]}{uuid.uuid4().hex}",
        kind=kind,
        consent_id=consent_id,
        idempotency_key=idempotency_key,
        request_hash=wanted,
        psu_id=psu_id,
        debtor_account_id=account.account_id,
        initiation=initiation,
        amount=str(amount),
        currency=currency,
        status=PENDING if kind == DOMESTIC else INITIATION_PENDING,
        created_at=now,
        status_updated_at=now,
    )
    session.add(order)
    try:
        # Written first: on SQLite this takes the write lock, so the checks below see a settled account and a
        # concurrent call for the same consent waits here, then fails the unique constraint.
        await session.flush()
    except IntegrityError:
        await session.rollback()
        found = await _existing(session, consent_id=consent_id, wanted=wanted)
        if found is None:
            raise
        return found, False
    # Elsewhere than SQLite: no two payments check the same account's funds at once.
    await session.exec(select(Account).where(Account.account_id == account.account_id).with_for_update())

    if kind == DOMESTIC:
        reason = await _refusal(session, order=order, account=account, amount=amount, now=now, rules=rules)
        if reason is not None:
            _reject(order, reason, now=now, status=REJECTED)
        else:
            order.transaction_id = await _debit(session, order=order, account=account, now=now, status="Pending")
            order.next_step_at = now + timedelta(seconds=rules.step_seconds)
    elif kind == SCHEDULED:
        if amount > rules.max_amount:
            _reject(order, OVER_LIMIT, now=now, status=INITIATION_FAILED)
        else:
            order.next_step_at = execute_at
    else:
        if amount > rules.max_amount:
            _reject(order, OVER_LIMIT, now=now, status=INITIATION_FAILED)
        else:
            order.next_step_at = now + timedelta(seconds=rules.step_seconds)
    session.add(order)
    await session.commit()
    return order, True


_PREFIX: Final = {DOMESTIC: "dp-", SCHEDULED: "dsp-", STANDING_ORDER: "dso-"}


async def _existing(session: AsyncSession, *, consent_id: str, wanted: str) -> PaymentOrder | None:
    found = await by_consent(session, consent_id=consent_id)
    if found is not None and found.request_hash != wanted:
        raise PaymentConflict("this consent was executed with another Initiation")
    return found


async def _refusal(
    session: AsyncSession, *, order: PaymentOrder, account: Account, amount: Decimal, now: datetime,
    rules: PaymentRules,
) -> str | None:
    if amount > rules.max_amount:
        return OVER_LIMIT
    if rules.cut_off is not None and now.timetz().replace(tzinfo=None) >= rules.cut_off:
        return AFTER_CUT_OFF
    if order.currency != account.currency:
        return INSUFFICIENT_FUNDS  # the sandbox holds one currency per account: nothing to pay other ones from
    if await available_funds(session, account=account, now=now) < amount:
        return INSUFFICIENT_FUNDS
    return None


def _reject(order: PaymentOrder, reason: str, *, now: datetime, status: str) -> None:
    order.status = status
    order.status_reason = reason
    order.status_reason_description = _DESCRIPTIONS[reason]
    order.status_updated_at = now
    order.next_step_at = None


def _creditor(order: PaymentOrder) -> dict[str, Any]:
    creditor = order.initiation.get("CreditorAccount")
    return creditor if isinstance(creditor, dict) else {}


async def _debit(session: AsyncSession, *, order: PaymentOrder, account: Account, now: datetime, status: str) -> str:
    remittance = order.initiation.get("RemittanceInformation")
    return await post_debit(
        session, account=account, amount=order.amount, currency=order.currency, creditor=_creditor(order),
        reference=remittance.get("Reference") if isinstance(remittance, dict) else None, now=now, status=status,
    )


async def post_debit(
    session: AsyncSession, *, account: Account, amount: str, currency: str, creditor: dict[str, Any],
    reference: Any, now: datetime, status: str,
) -> str:
    """Put a payment's debit on the account (``Pending``, or ``Booked`` at once) and recompute its balances;
    returns the entry's transaction id."""
    name = str(creditor.get("Name") or "payee")
    transaction_id = f"pay-{uuid.uuid4().hex}"
    session.add(
        LedgerEntry(
            transaction_id=transaction_id,
            account_id=account.account_id,
            booking_at=now,
            value_at=now,
            status=status,
            credit_debit="Debit",
            amount=amount,
            currency=currency,
            kind="payment",
            information=f"Payment to {name}" + (f" ref {reference}" if reference else ""),
            reference=str(reference)[:35] if reference else None,
            counterparty_name=name[:350],
            counterparty_scheme=str(creditor.get("SchemeName") or "") or None,
            counterparty_identification=str(creditor.get("Identification") or "") or None,
        )
    )
    await session.flush()
    if status == "Booked":
        await book(session, transaction_id=transaction_id, at=now)
    else:
        await store_balances(session, account=catalogue.spec_of(account), now=now)
    return transaction_id


async def book(session: AsyncSession, *, transaction_id: str, at: datetime) -> None:
    """Book a Pending entry at ``at``: its running balance follows the last booked entry before it, and every
    later booked entry's running balance moves by its amount (the ledger stays a consistent running sum)."""
    entry = await session.get(LedgerEntry, transaction_id)
    assert entry is not None
    signed = Decimal(entry.amount) if entry.credit_debit == "Credit" else -Decimal(entry.amount)
    before = (
        await session.exec(
            select(LedgerEntry.balance_after)
            .where(LedgerEntry.account_id == entry.account_id, LedgerEntry.status == "Booked",
                   col(LedgerEntry.booking_at) <= at, LedgerEntry.transaction_id != transaction_id)
            .order_by(col(LedgerEntry.booking_at).desc())
            .limit(1)
        )
    ).first()
    account = await session.get(Account, entry.account_id)
    assert account is not None
    opening = Decimal(str(before)) if before is not None else Decimal(account.opening_balance)
    later = (
        await session.exec(
            select(LedgerEntry).where(LedgerEntry.account_id == entry.account_id, LedgerEntry.status == "Booked",
                                      col(LedgerEntry.booking_at) > at)
        )
    ).all()
    for row in later:
        if row.balance_after is not None:
            row.balance_after = str(Decimal(row.balance_after) + signed)
            session.add(row)
    entry.status = "Booked"
    entry.booking_at = at
    entry.value_at = at
    entry.balance_after = str(opening + signed)
    session.add(entry)
    await session.flush()
    await store_balances(session, account=catalogue.spec_of(account), now=at)


async def advance(session: AsyncSession, *, now: datetime, rules: PaymentRules, payment_id: str | None = None,
                  force: bool = False) -> int:
    """Apply every status step due by ``now`` (or, with ``force``, settle ``payment_id`` at once); commits.
    Returns how many steps were taken."""
    async def step(order: Any, at: datetime) -> bool:
        return await _step(session, order=order, at=at, rules=rules)

    return await advance_due(session, table=PaymentOrder, step=step, now=now, payment_id=payment_id, force=force)


async def advance_due(session: AsyncSession, *, table: Any, step: Callable[[Any, datetime], Awaitable[bool]],
                      now: datetime, payment_id: str | None, force: bool) -> int:
    """The clock's loop over one payments table (``next_step_at``, ``payment_id``): every step due by ``now``, in
    order, each taken by ``step`` (false: not taken, stop with this payment); ``force`` takes them all at once.
    Commits; returns how many steps were taken."""
    query = select(table).where(col(table.next_step_at).is_not(None))
    if payment_id is not None:
        query = query.where(table.payment_id == payment_id)
    if not force:
        query = query.where(col(table.next_step_at) <= now)
    steps = 0
    for row in (await session.exec(query.order_by(col(table.next_step_at)))).all():
        while row.next_step_at is not None and (force or row.next_step_at <= now):
            if not await step(row, now if force else row.next_step_at):
                break
            steps += 1
    await session.commit()
    return steps


async def _step(session: AsyncSession, *, order: PaymentOrder, at: datetime, rules: PaymentRules) -> bool:
    """One transition, claimed with a compare-and-set on the status so two callers never both take it."""
    old = order.status
    if order.kind == DOMESTIC:
        new = {PENDING: IN_PROCESS, IN_PROCESS: COMPLETED}.get(old)
    else:
        new = INITIATION_COMPLETED if old == INITIATION_PENDING else None
    if new is None:
        return False
    account = await session.get(Account, order.debtor_account_id)
    assert account is not None
    if order.kind == SCHEDULED and await available_funds(session, account=account, now=at) < Decimal(order.amount):
        new = INITIATION_FAILED
    next_at = at + timedelta(seconds=rules.step_seconds) if new == IN_PROCESS else None
    claimed = await session.execute(
        update(PaymentOrder)
        .where(col(PaymentOrder.payment_id) == order.payment_id, col(PaymentOrder.status) == old)
        .values(status=new, status_updated_at=at, next_step_at=next_at)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await session.refresh(order)
        return False
    if new == COMPLETED and order.transaction_id is not None:
        await book(session, transaction_id=order.transaction_id, at=at)
    elif new == INITIATION_COMPLETED and order.kind == SCHEDULED:
        transaction_id = await _debit(session, order=order, account=account, now=at, status="Booked")
        await session.execute(
            update(PaymentOrder).where(col(PaymentOrder.payment_id) == order.payment_id)
            .values(transaction_id=transaction_id)
        )
    elif new == INITIATION_FAILED:
        await session.execute(
            update(PaymentOrder).where(col(PaymentOrder.payment_id) == order.payment_id)
            .values(status_reason=INSUFFICIENT_FUNDS, status_reason_description=_DESCRIPTIONS[INSUFFICIENT_FUNDS])
        )
    await session.flush()
    await session.refresh(order)
    return True


# --------------------------------------------------------------------------- rendering


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


_ID_FIELD: Final = {DOMESTIC: "DomesticPaymentId", SCHEDULED: "DomesticScheduledPaymentId",
                    STANDING_ORDER: "DomesticStandingOrderId"}


def render(order: PaymentOrder, *, account: Account | None = None) -> dict[str, Any]:
    """``Data`` close to ``OBWriteDomesticResponse5`` (and its scheduled and standing-order siblings), plus the
    bank's ``StatusDetail`` for ``/payment-details``."""
    data: dict[str, Any] = {
        _ID_FIELD[order.kind]: order.payment_id,
        "ConsentId": order.consent_id,
        "CreationDateTime": iso(order.created_at),
        "Status": order.status,
        "StatusUpdateDateTime": iso(order.status_updated_at),
        "Charges": [],
        "Initiation": order.initiation,
    }
    if order.kind == DOMESTIC and order.status not in (REJECTED,):
        data["ExpectedExecutionDateTime"] = iso(order.created_at)
    if account is not None:
        data["Debtor"] = {"SchemeName": account.scheme_name, "Identification": account.identification,
                          "Name": account.holder_name}
    if order.status_reason:
        data["StatusDetail"] = {"Status": order.status, "StatusReason": "ProprietaryRejection",
                                "StatusReasonDescription": f"{order.status_reason}: {order.status_reason_description}"}
    return data


def render_details(order: PaymentOrder) -> dict[str, Any]:
    """``OBWritePaymentDetailsResponse1`` ``Data``: the payment's scheme status."""
    detail: dict[str, Any] = {"Status": order.status}
    if order.status_reason:
        detail["StatusReason"] = "ProprietaryRejection"
        detail["StatusReasonDescription"] = f"{order.status_reason}: {order.status_reason_description}"
    return {
        "PaymentStatus": [
            {
                "PaymentTransactionId": order.transaction_id or order.payment_id,
                "Status": order.status,
                "StatusUpdateDateTime": iso(order.status_updated_at),
                "StatusDetail": detail,
            }
        ]
    }
