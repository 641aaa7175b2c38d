"""Step 8 (end) of the enforcement pipeline (docs/architecture.md section 3): record every served call in the consent's
audit trail (``consent.service.record_access``: the dashboard's "when last used and by what call", and the
hash-chained ``ACCESSED`` event with ``customer_present``), off the response path.

Why a queue: ``record_access`` is a write transaction that extends a hash chain; doing it before answering would
add a database write to every read and, on SQLite, serialise all requests on the write lock. Calls are queued
(``record`` waits only when the queue is full: back-pressure, never dropping) and one writer task stores them in
order (a burst in one transaction), retrying a failed write with back-off. ``close()`` drains the queue at
shutdown. What a queue cannot survive is a hard kill of the process between answering and writing; the window
is the queue's depth.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from consent.access import Access
from consent.access import record_access
from consent.access import record_accesses
from consent.errors import ConsentError
from gateway.store.db import Database

log = logging.getLogger("obgw.audit")

QUEUE_SIZE: Final = 10_000
BATCH_SIZE: Final = 200
_RETRIES: Final = 5


@dataclass(frozen=True, kw_only=True)
class AccessEvent:
    consent_id: str
    client_id: str
    endpoint: str
    customer_present: bool
    at: datetime


class AccessRecorder:
    def __init__(self, *, db: Database, queue_size: int = QUEUE_SIZE, backoff: float = 0.05) -> None:
        self._db = db
        self._queue_size = queue_size
        self._backoff = backoff
        self._queue: asyncio.Queue[AccessEvent] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.failed: list[AccessEvent] = []

    def _ensure_writer(self) -> asyncio.Queue[AccessEvent]:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self._queue_size)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run(self._queue), name="obgw-access-recorder")
        return self._queue

    async def record(
        self, *, consent_id: str, client_id: str, endpoint: str, customer_present: bool, at: datetime
    ) -> None:
        event = AccessEvent(
            consent_id=consent_id, client_id=client_id, endpoint=endpoint, customer_present=customer_present, at=at
        )
        await self._ensure_writer().put(event)

    async def _store(self, event: AccessEvent) -> None:
        for attempt in range(_RETRIES):
            try:
                async with self._db.session() as session:
                    await record_access(
                        session=session,
                        consent_id=event.consent_id,
                        client_id=event.client_id,
                        endpoint=event.endpoint,
                        customer_present=event.customer_present,
                        now=event.at,
                    )
                return
            except ConsentError:
                # The consent vanished between serving and recording (it cannot: consents are soft-deleted);
                # retrying cannot help. Keep it visible rather than silently gone.
                break
            except Exception:  # noqa: BLE001 - a transient database failure must not kill the writer
                log.warning("audit write failed (attempt %d), retrying", attempt + 1, exc_info=True)
                await asyncio.sleep(self._backoff * (2**attempt))
        log.error("access to consent %s by %s at %s could not be recorded", event.consent_id, event.client_id, event.at)
        self.failed.append(event)

    async def _store_batch(self, events: list[AccessEvent]) -> None:
        """Everything queued so far in one transaction; on any failure, one event at a time (with retries)."""
        if len(events) > 1:
            try:
                async with self._db.session() as session:
                    await record_accesses(session=session, accesses=[
                        Access(consent_id=e.consent_id, client_id=e.client_id, endpoint=e.endpoint,
                               customer_present=e.customer_present, at=e.at)
                        for e in events
                    ])
                return
            except Exception:  # noqa: BLE001 - the batch rolled back whole: store each event on its own
                log.warning("batched audit write of %d events failed; writing one by one", len(events),
                            exc_info=True)
        for event in events:
            await self._store(event)

    async def _run(self, queue: asyncio.Queue[AccessEvent]) -> None:
        while True:
            events = [await queue.get()]
            # Drain what is already waiting (no extra latency): one commit for a burst of calls.
            while len(events) < BATCH_SIZE and not queue.empty():
                events.append(queue.get_nowait())
            try:
                await self._store_batch(events)
            finally:
                for _ in events:
                    queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued access is stored (tests, shutdown)."""
        if self._queue is not None:
            if self._writer is None or self._writer.done():
                self._ensure_writer()
            await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self._writer = None
        self._queue = None
