"""The sandbox bank's ledger of variable recurring payments: many per consent, each at most once per key.

OBIE VRP API v3.1.11 ``POST /domestic-vrps`` (docs/obie-notes-vrp-events.md sections 1, 5 and 6): a VRP consent
stays ``Authorised`` and yields many payments, each an ``OBDomesticVRPInstruction`` under the consent's
``OBDomesticVRPInitiation``. The gateway has already admitted the payment against the consent's control
parameters; the bank applies its own rules: its per-payment maximum, the debtor account's funds and, in the
sandbox, an armed reject-next control (``VrpRejectNext``). A refused payment is still created, ``Rejected`` with
``StatusReason`` ``UK.OBIE.OtherReason`` (the ``OBVRPStatusReasonCode`` that fits a bank's own refusal; the other
one, ``ExemptionNotApplied``, is about SCA exemptions) and a ``StatusReasonDescription`` saying why; it moves no
money. An accepted one moves money as a domestic payment does (``sandbox.payments_ledger``, docs/obie-notes.md
section 9): a Pending debit at once, booked when the payment reaches ``AcceptedSettlementCompleted`` on the
payments clock (``Pending`` -> ``AcceptedSettlementInProcess`` -> ``AcceptedSettlementCompleted``).

Exactly once per (``consent_id``, ``idempotency_key``): the unique row is inserted before anything is read, as
the payments ledger does, so on SQLite the insert takes the write lock and a concurrent call with the same key
waits, then fails the constraint and gets that payment back; elsewhere the debtor account row is locked
(``FOR UPDATE``) before the funds check. The reject-next control is used up by a ``DELETE`` in the same
transaction, so two payments racing under one consent never both take it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import Final

from sqlalchemy import delete
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from sandbox import ais_catalogue as catalogue
from sandbox import payments_ledger as ledger
from sandbox.ledger_store import store_balances
from sandbox.models import Account
from sandbox.models import LedgerEntry
from sandbox.models import VrpPayment
from sandbox.models import VrpRejectNext
from sandbox.payments_ledger import PaymentConflict
from sandbox.payments_ledger import PaymentInputError
from sandbox.payments_ledger import PaymentRules

PENDING: Final = ledger.PENDING
IN_PROCESS: Final = ledger.IN_PROCESS
COMPLETED: Final = ledger.COMPLETED
REJECTED: Final = ledger.REJECTED

OTHER_REASON: Final = "UK.OBIE.OtherReason"
INSUFFICIENT_FUNDS: Final = "AM04 InsufficientFunds: the debtor account cannot cover the amount"
OVER_LIMIT: Final = "The amount is above the bank's per-payment limit"
BANK_CONTROLS: Final = "Refused by the bank's own risk controls (sandbox scenario control)"
_ID_PREFIX: Final = "vrp-"


def request_hash(*, initiation: dict[str, Any], instruction: dict[str, Any]) -> str:
    canonical = json.dumps({"Initiation": initiation, "Instruction": instruction}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def instructed_amount(instruction: dict[str, Any]) -> tuple[Decimal, str]:
    """``Instruction.InstructedAmount`` as (positive amount, currency); ``PaymentInputError`` names what is wrong."""
    return ledger.money_of(instruction.get("InstructedAmount"), where="Instruction.InstructedAmount")


async def find(session: AsyncSession, *, payment_id: str) -> VrpPayment | None:
    return await session.get(VrpPayment, payment_id)


async def _existing(session: AsyncSession, *, consent_id: str, idempotency_key: str, wanted: str) -> VrpPayment | None:
    found = (
        await session.exec(
            select(VrpPayment).where(VrpPayment.consent_id == consent_id,
                                     VrpPayment.idempotency_key == idempotency_key)
        )
    ).first()
    if found is not None and found.request_hash != wanted:
        raise PaymentConflict("this idempotency key was used for another payment under this consent")
    return found


async def arm_reject_next(session: AsyncSession, *, consent_id: str, now: datetime) -> None:
    """The next VRP payment under ``consent_id`` is created Rejected (arming twice still rejects one). Commits."""
    if await session.get(VrpRejectNext, consent_id) is not None:
        return
    session.add(VrpRejectNext(consent_id=consent_id, armed_at=now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # armed meanwhile by a concurrent call: the same one-shot


async def execute(
    session: AsyncSession,
    *,
    consent_id: str,
    idempotency_key: str,
    psu_id: str,
    account: Account,
    initiation: dict[str, Any],
    instruction: dict[str, Any],
    now: datetime,
    rules: PaymentRules,
) -> tuple[VrpPayment, bool]:
    """Execute the payment once per key: ``(payment, True)`` the first time, ``(same payment, False)`` after.

    Raises ``PaymentConflict`` when the key was used with another Initiation or Instruction, and
    ``PaymentInputError`` for an unreadable amount or a currency that is not the debtor account's. Commits.
    """
    amount, currency = instructed_amount(instruction)
    wanted = request_hash(initiation=initiation, instruction=instruction)
    existing = await _existing(session, consent_id=consent_id, idempotency_key=idempotency_key, wanted=wanted)
    if existing is not None:
        return existing, False
    if currency != account.currency:
        raise PaymentInputError("the currency is not the debtor account's",
                                field="Instruction.InstructedAmount.Currency")
    payment = VrpPayment(
        payment_id=f"{_ID_PREFIX}{uuid.uuid4().hex}",
        consent_id=consent_id,
        idempotency_key=idempotency_key,
        request_hash=wanted,
        psu_id=psu_id,
        debtor_account_id=account.account_id,
        initiation=initiation,
        instruction=instruction,
        amount=str(amount),
        currency=currency,
        status=PENDING,
        created_at=now,
        status_updated_at=now,
    )
    session.add(payment)
    try:
        # Written first: on SQLite this takes the write lock (see the module docstring).
        await session.flush()
    except IntegrityError:
        await session.rollback()
        found = await _existing(session, consent_id=consent_id, idempotency_key=idempotency_key, wanted=wanted)
        if found is None:
            raise
        return found, False
    await session.exec(select(Account).where(Account.account_id == account.account_id).with_for_update())

    armed = await session.execute(delete(VrpRejectNext).where(col(VrpRejectNext.consent_id) == consent_id))
    if getattr(armed, "rowcount", 0) == 1:
        _reject(payment, BANK_CONTROLS, now=now)
    elif amount > rules.max_amount:
        _reject(payment, OVER_LIMIT, now=now)
    elif await ledger.available_funds(session, account=account, now=now) < amount:
        _reject(payment, INSUFFICIENT_FUNDS, now=now)
    else:
        remittance = instruction.get("RemittanceInformation")
        creditor = instruction.get("CreditorAccount")
        payment.transaction_id = await ledger.post_debit(
            session, account=account, amount=payment.amount, currency=currency,
            creditor=creditor if isinstance(creditor, dict) else {},
            reference=remittance.get("Reference") if isinstance(remittance, dict) else None,
            now=now, status="Pending",
        )
        payment.next_step_at = now + timedelta(seconds=rules.step_seconds)
        payment.expected_settlement_at = now + timedelta(seconds=2 * rules.step_seconds)
    session.add(payment)
    await session.commit()
    return payment, True


def _reject(payment: VrpPayment, description: str, *, now: datetime) -> None:
    payment.status = REJECTED
    payment.status_reason = OTHER_REASON
    payment.status_reason_description = description
    payment.status_updated_at = now
    payment.next_step_at = None
    payment.expected_settlement_at = None


async def advance(session: AsyncSession, *, now: datetime, rules: PaymentRules, payment_id: str | None = None,
                  force: bool = False) -> int:
    """Apply every status step due by ``now`` (or, with ``force``, settle ``payment_id`` at once); commits.
    Returns how many steps were taken (the payments clock's loop, ``sandbox.payments_ledger.advance_due``)."""
    async def step(payment: Any, at: datetime) -> bool:
        return await _step(session, payment=payment, at=at, rules=rules)

    return await ledger.advance_due(session, table=VrpPayment, step=step, now=now, payment_id=payment_id,
                                    force=force)


async def _step(session: AsyncSession, *, payment: VrpPayment, at: datetime, rules: PaymentRules) -> bool:
    """One transition, claimed with a compare-and-set on the status so two callers never both take it."""
    old = payment.status
    new = {PENDING: IN_PROCESS, IN_PROCESS: COMPLETED}.get(old)
    if new is None:
        return False
    values: dict[str, Any] = {"status": new, "status_updated_at": at, "next_step_at": None}
    if new == IN_PROCESS:
        values["next_step_at"] = at + timedelta(seconds=rules.step_seconds)
    else:
        values["expected_settlement_at"] = at
    claimed = await session.execute(
        update(VrpPayment)
        .where(col(VrpPayment.payment_id) == payment.payment_id, col(VrpPayment.status) == old)
        .values(**values)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await session.refresh(payment)
        return False
    if new == COMPLETED and payment.transaction_id is not None:
        await ledger.book(session, transaction_id=payment.transaction_id, at=at)
    await session.flush()
    await session.refresh(payment)
    return True


async def reject_pending(session: AsyncSession, *, payment: VrpPayment, now: datetime) -> bool:
    """The bank refuses a ``Pending`` payment (scenario control): ``Rejected``, its pending debit released.
    False, with nothing changed, when the payment is no longer ``Pending``. Commits."""
    transaction_id = payment.transaction_id
    claimed = await session.execute(
        update(VrpPayment)
        .where(col(VrpPayment.payment_id) == payment.payment_id, col(VrpPayment.status) == PENDING)
        .values(status=REJECTED, status_reason=OTHER_REASON, status_reason_description=BANK_CONTROLS,
                status_updated_at=now, next_step_at=None, expected_settlement_at=None, transaction_id=None)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await session.rollback()
        return False
    if transaction_id is not None:
        await session.execute(
            delete(LedgerEntry).where(col(LedgerEntry.transaction_id) == transaction_id,
                                      col(LedgerEntry.status) == "Pending")
        )
        account = await session.get(Account, payment.debtor_account_id)
        if account is not None:
            await store_balances(session, account=catalogue.spec_of(account), now=now)
    await session.commit()
    await session.refresh(payment)
    return True


# --------------------------------------------------------------------------- rendering


def render(payment: VrpPayment, *, account: Account | None) -> dict[str, Any]:
    """The members of ``OBDomesticVRPResponse.Data`` the bank knows."""
    data: dict[str, Any] = {
        "DomesticVRPId": payment.payment_id,
        "ConsentId": payment.consent_id,
        "CreationDateTime": ledger.iso(payment.created_at),
        "Status": payment.status,
        "StatusUpdateDateTime": ledger.iso(payment.status_updated_at),
    }
    if payment.status_reason:
        data["StatusReason"] = payment.status_reason
        data["StatusReasonDescription"] = payment.status_reason_description or payment.status_reason
    if payment.status != REJECTED:
        data["ExpectedExecutionDateTime"] = ledger.iso(payment.created_at)
    if payment.expected_settlement_at is not None:
        data["ExpectedSettlementDateTime"] = ledger.iso(payment.expected_settlement_at)
    data["Initiation"] = payment.initiation
    data["Instruction"] = payment.instruction
    if account is not None:
        data["DebtorAccount"] = {"SchemeName": account.scheme_name, "Identification": account.identification,
                                 "Name": account.holder_name}
    return data


def render_details(payment: VrpPayment) -> dict[str, Any]:
    """``OBDomesticVRPDetails`` ``Data``: the payment's transfer status."""
    status: dict[str, Any] = {
        "PaymentTransactionId": payment.transaction_id or payment.payment_id,
        "Status": payment.status,
        "StatusUpdateDateTime": ledger.iso(payment.status_updated_at),
    }
    if payment.status_reason:
        status["StatusDetail"] = {
            "Status": payment.status,
            "StatusReason": "ProprietaryRejection",
            "StatusReasonDescription": (payment.status_reason_description or payment.status_reason)[:128],
        }
    return {"PaymentStatus": [status]}
