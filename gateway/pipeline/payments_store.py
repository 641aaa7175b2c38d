"""Exactly-once payment orders: the gateway's idempotency record (``gateway.store.payment_tables.PaymentOrderRecord``).

R/W API v3.1.11 profile "Idempotency" (docs/obie-notes.md section 5) and PISP profile "Idempotent Payment Order"
(docs/obie-notes.md section 9 step 4): the same ``x-idempotency-key`` from the same TPP within 24 hours returns the same payment
(201, the same body) and never executes a second one; another body under the same key is refused and changes
nothing.

The protocol, for one (client, key):

1. ``acquire``: insert the record ``pending`` with a lease before the bank is called (the unique constraint on
   (client, key) decides, on every backend and every replica, who calls the bank). A duplicate that loses the
   insert reads the record: a finished one is replayed, a pending one with a live lease is waited for, a pending
   one whose lease ran out (its caller died, e.g. SIGKILL, or gave up on a bank timeout) is taken over by a
   conditional update of the lease.
2. The owner calls the bank. The bank executes at most once per consent (``sandbox.payments`` contract: 201
   executed now, 200 the same payment again), so a takeover that asks again gets the same payment back.
3. ``complete``: in one transaction, the record becomes ``done`` with the exact answer and the consent becomes
   ``Consumed`` (``consent.service.consume``, conditional on ``Authorised``). Either both are stored or neither;
   of two owners racing to complete, the second finds the record done and replays it.

Safety never rests on the lease: two callers may both reach the bank, and the bank answers both with one
payment; the lease only keeps duplicates from hammering the bank while the owner works.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import ClassVar
from typing import Final
from typing import TypeVar

from sqlalchemy import delete
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import idempotency
from consent import service as consent_service
from consent.errors import ConsentError
from consent.models import Consent
from gateway import errors
from gateway.backend.bank import BankRefused
from gateway.backend.upstream import upstream_error
from gateway.store.db import Database
from gateway.store.payment_tables import PaymentOrderRecord

PENDING: Final = "pending"
DONE: Final = "done"
# Longer than the bank call may take (gateway.backend.upstream total timeout 10 s), so a live owner keeps its lease.
DEFAULT_LEASE: Final = timedelta(seconds=15)
POLL_INTERVAL: Final = 0.05
# A concurrent first call claims its key within milliseconds of passing its checks: look more often for it.
APPEAR_POLL_INTERVAL: Final = 0.02
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class StoredAnswer:
    status: int
    body: bytes
    payment_id: str


@dataclass(frozen=True, kw_only=True)
class Claim:
    """The outcome of ``acquire``: either the finished answer to replay, or the lease to call the bank under."""

    record_id: str
    lease_token: str | None
    answer: StoredAnswer | None

    @property
    def owner(self) -> bool:
        return self.answer is None


def _conflict(client_id: str, key: str) -> errors.HeaderInvalid:
    # The spec names no code (docs/obie-notes.md section 5); the consent endpoints answer the same (consent.errors).
    return errors.HeaderInvalid(
        "x-idempotency-key was already used with a different request",
        path="x-idempotency-key",
        detail=f"{client_id} key {key!r}",
    )


def _answer(record: Any) -> StoredAnswer:
    assert record.response_status is not None and record.response_body is not None and record.payment_id
    return StoredAnswer(status=record.response_status, body=record.response_body.encode(),
                        payment_id=record.payment_id)


async def retrying(operation: Callable[[], Awaitable[T]]) -> T:
    """SQLite refuses a writer at once when its snapshot went stale ("database is locked"): try again."""
    for attempt in range(20):
        try:
            return await operation()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


async def _until(probe: Callable[[], Awaitable[tuple[bool, T]]], *, within: float, interval: float) -> T:
    """Call ``probe`` every ``interval`` seconds until it reports done or ``within`` seconds have passed; its
    last value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        done, value = await probe()
        if done or asyncio.get_running_loop().time() >= deadline:
            return value
        await asyncio.sleep(interval)


Admission = Callable[[AsyncSession, datetime], Awaitable[dict[str, Any]]]
"""``(session, now) -> extra columns`` of a new record, run in the transaction that inserts it with the consent's row
locked (so admissions of one consent are serialised on every replica); raises to refuse, storing nothing."""


class PaymentOrderStore:
    # The record table; a payment consent yields one order (PISP profile), checked on a lost insert.
    table: ClassVar[type[Any]] = PaymentOrderRecord
    one_per_consent: ClassVar[bool] = True
    # DPC "State Model": the consent becomes Consumed with its order (a VRP consent does not).
    consume_on_complete: ClassVar[bool] = True

    def __init__(
        self, *, db: Database, window: timedelta, lease: timedelta = DEFAULT_LEASE, max_wait: float = 30.0
    ) -> None:
        """``window``: how long a key replays its first answer (the rulebook's ``lifetimes.idempotency_key``)."""
        self._db = db
        self._window = window
        self._lease = lease
        self._max_wait = max_wait

    async def find(self, *, client_id: str, key: str, now: datetime) -> Any:
        """The client's live record for ``key`` (created within the window)."""
        async with self._db.session() as session:
            return await self._by_key(session, client_id=client_id, key=key, now=now)

    async def appears(
        self, *, client_id: str, key: str, now: Callable[[], datetime], within: float
    ) -> Any:
        """The record for (client, ``key``), waiting up to ``within`` seconds for a concurrent first call that is
        on its way to claim the key."""
        async def probe() -> tuple[bool, Any]:
            record = await self.find(client_id=client_id, key=key, now=now())
            return record is not None, record

        return await _until(probe, within=within, interval=APPEAR_POLL_INTERVAL)

    async def _by_key(
        self, session: AsyncSession, *, client_id: str, key: str, now: datetime
    ) -> Any:
        found = await session.exec(
            select(self.table).where(idempotency.live(self.table, client_id=client_id, key=key,
                                                              now=now, window=self._window))
        )
        return found.first()

    async def by_payment(self, *, payment_id: str) -> Any:
        async with self._db.session() as session:
            found = await session.exec(select(self.table).where(self.table.payment_id == payment_id))
            return found.first()

    def replay_of(self, record: Any, *, request_hash: str) -> StoredAnswer | None:
        """The stored answer when ``record`` is finished; refuses another body under the same key."""
        if record.request_hash != request_hash:
            raise _conflict(record.client_id, record.idempotency_key or "")
        return _answer(record) if record.state == DONE else None

    async def settled_answer(
        self, *, client_id: str, key: str, request_hash: str, now: Callable[[], datetime]
    ) -> StoredAnswer | None:
        """The finished answer under (client, key), waiting while a live caller is still at the bank; ``None``
        when no submission used this key. A duplicate that arrives just after the first submission consumed the
        consent must replay it, not be refused for the consent's new status."""
        async def probe() -> tuple[bool, StoredAnswer | None]:
            record = await self.find(client_id=client_id, key=key, now=now())
            if record is None:
                return True, None
            answer = self.replay_of(record, request_hash=request_hash)
            return answer is not None, answer

        return await _until(probe, within=self._max_wait, interval=POLL_INTERVAL)

    async def acquire(
        self,
        *,
        client_id: str,
        key: str,
        request_hash: str,
        kind: str,
        consent_id: str,
        psu_id: str,
        account_id: str,
        now: Callable[[], datetime],
        admit: Admission | None = None,
    ) -> Claim:
        """Become the one caller of the bank for (client, key), or get the finished answer (module docstring).
        ``admit`` decides, atomically with the insert, whether a new record may exist at all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while True:
            claim = await retrying(lambda: self._insert(
                client_id=client_id, key=key, request_hash=request_hash, kind=kind, consent_id=consent_id,
                psu_id=psu_id, account_id=account_id, at=now(), admit=admit,
            ))
            if claim is not None:
                return claim
            async with self._db.session() as session:
                record = await self._by_key(session, client_id=client_id, key=key, now=now())
                if record is None and not self.one_per_consent:
                    continue  # the record went away meanwhile (a refused bank call): try again
                if record is None:
                    # The insert lost on the consent, not the key: this consent already has an order under
                    # another key (PISP: a consent yields one payment; docs/obie-notes.md section 9 step 4, InvalidConsentStatus).
                    other = (await session.exec(
                        select(self.table).where(self.table.consent_id == consent_id)
                    )).first()
                    if other is not None:
                        raise errors.InvalidConsentStatus(
                            "The consent already has a payment order", detail=f"{consent_id} under another key"
                        )
                    continue  # the record went away meanwhile (a refused bank call): try again
            answer = self.replay_of(record, request_hash=request_hash)
            if answer is not None:
                return Claim(record_id=record.record_id, lease_token=None, answer=answer)
            if record.lease_until <= now():
                token = await retrying(functools.partial(self._take_over_now, record, now))
                if token is not None:
                    return Claim(record_id=record.record_id, lease_token=token, answer=None)
                continue
            if loop.time() >= deadline:
                raise errors.ObError("The payment order is still being processed; retry later", status_code=503,
                                     detail=f"{record.record_id} pending")
            await asyncio.sleep(POLL_INTERVAL)

    async def _insert(
        self, *, client_id: str, key: str, request_hash: str, kind: str, consent_id: str, psu_id: str,
        account_id: str, at: datetime, admit: Admission | None = None,
    ) -> Claim | None:
        token = uuid.uuid4().hex
        async with self._db.session() as session:
            extra: dict[str, Any] = {}
            if admit is not None:
                # The write comes first: the consent's row lock (PostgreSQL) or the write lock (SQLite) is held
                # from here to the commit, so no other admission of this consent reads what this one decides on.
                await session.exec(
                    update(Consent).where(col(Consent.consent_id) == consent_id)
                    .values(status_updated_at=Consent.status_updated_at)
                    .execution_options(synchronize_session=False)
                )
                if await self._by_key(session, client_id=client_id, key=key, now=at) is not None:
                    return None  # a duplicate of an admitted payment: replayed, never admitted (counted) twice
                extra = await admit(session, at)
            record = self.table(
                record_id=uuid.uuid4().hex, client_id=client_id, idempotency_key=key, request_hash=request_hash,
                kind=kind, consent_id=consent_id, psu_id=psu_id, account_id=account_id, state=PENDING,
                lease_token=token, lease_until=at + self._lease, created_at=at, **extra,
            )
            try:
                await idempotency.retire_expired(session, self.table, client_id=client_id, key=key, now=at,
                                                 window=self._window)
                session.add(record)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
        return Claim(record_id=record.record_id, lease_token=token, answer=None)

    async def _take_over_now(self, record: Any, now: Callable[[], datetime]) -> str | None:
        return await self._take_over(record, at=now())

    async def _take_over(self, record: Any, *, at: datetime) -> str | None:
        token = uuid.uuid4().hex
        async with self._db.session() as session:
            result = await session.exec(
                update(self.table)
                .where(
                    col(self.table.record_id) == record.record_id,
                    col(self.table.state) == PENDING,
                    col(self.table.lease_token) == record.lease_token,
                )
                .values(lease_token=token, lease_until=at + self._lease)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return token if result.rowcount == 1 else None

    async def release(self, claim: Claim, *, at: datetime) -> None:
        """The bank's answer is unknown (timeout, 5xx): end the lease so the TPP's retry asks the bank again."""
        async def run() -> None:
            async with self._db.session() as session:
                await session.exec(
                    update(self.table)
                    .where(col(self.table.record_id) == claim.record_id,
                           col(self.table.lease_token) == claim.lease_token,
                           col(self.table.state) == PENDING)
                    .values(lease_until=at)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()

        await retrying(run)

    async def abandon(self, claim: Claim) -> None:
        """The bank refused the order outright (nothing executed): forget the record, the key is free again."""
        async def run() -> None:
            async with self._db.session() as session:
                await session.exec(
                    delete(self.table)
                    .where(col(self.table.record_id) == claim.record_id,
                           col(self.table.lease_token) == claim.lease_token,
                           col(self.table.state) == PENDING)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()

        await retrying(run)

    async def at_bank(self, claim: Claim, *, call: Callable[[], Awaitable[T]], now: Callable[[], datetime],
                      refused: str) -> T:
        """Run the bank call the claim was acquired for, and settle the claim on its failure (module docstring):
        a 409 (the bank holds another payment under this consent or key: not ours to decide) keeps the record
        pending for an operator; any other refusal (nothing executed) frees the key, which also gives back what
        the record counted; an unknown outcome (timeout, 5xx, cancelled) ends the lease so the TPP's retry asks
        the bank again. ``refused`` words the 502 the TPP gets for a refusal."""
        try:
            return await call()
        except BankRefused as exc:
            if exc.status == 409:
                await self.release(claim, at=now())
            else:
                await self.abandon(claim)
            raise upstream_error(502, refused, detail=f"bank answered {exc.status}") from None
        except BaseException:
            await self.release(claim, at=now())
            raise

    async def complete(
        self, claim: Claim, *, answer: StoredAnswer, consent_id: str, client_id: str, at: datetime
    ) -> StoredAnswer:
        """Store ``answer`` and consume the consent in one transaction; the answer the TPP must get (ours, or the
        one a racing owner stored first)."""
        async def run() -> bool:
            async with self._db.session() as session:
                # The write comes first, so on SQLite this transaction holds the write lock from its start.
                result = await session.exec(
                    update(self.table)
                    .where(col(self.table.record_id) == claim.record_id,
                           col(self.table.state) == PENDING)
                    .values(state=DONE, payment_id=answer.payment_id, response_status=answer.status,
                            response_body=answer.body.decode(), completed_at=at)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    await session.rollback()
                    return False
                if not self.consume_on_complete:
                    await session.commit()
                    return True
                try:
                    # DPC "State Model": Authorised -> Consumed when the payment order is created. consume()
                    # commits this session's transaction: the record and the status change land together.
                    await consent_service.consume(session=session, consent_id=consent_id, now=at,
                                                  client_id=client_id)
                except ConsentError:
                    await session.rollback()
                    return False
                return True

        if await retrying(run):
            return answer
        async with self._db.session() as session:
            record = await session.get(self.table, claim.record_id)
        if record is not None and record.state == DONE:
            return _answer(record)
        raise errors.InvalidConsentStatus("The consent can no longer be used for a payment order",
                                          detail=f"{consent_id}: not Authorised at completion")
