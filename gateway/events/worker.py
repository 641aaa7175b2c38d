"""The delivery worker: pushes each outbox event, as a signed Security Event Token, to the TPP's callback
(OBIE Event Notification API v3.1.11, "Real Time Event Notification"; docs/architecture.md section 7).

Each gateway process runs one (``create_app(start_event_worker=True)``, what ``obgw up`` and ``obgw serve`` do
when ``OBGW_EVENT_DELIVERY`` is on). It claims due events (``gateway.events.outbox``), and for each:

* no subscription, or one without ``CallbackUrl``: the event is held for aggregated polling (``poll``);
* a subscription whose ``EventTypes`` leave the type out: ``skipped``;
* else ``POST {CallbackUrl}/event-notifications``, ``Content-Type: application/jwt``, after the SSRF check of
  ``gateway.events.callbacks``, with a bounded timeout and no redirects. A 2xx is ``delivered``; anything else
  is retried after ``base * 2^(attempt-1)`` (capped), and after the last allowed attempt the event is
  ``failed``. A refused callback URL fails at once (retrying cannot make it allowed). In sandbox mode a
  ``CallbackUrl`` naming the TPP's own sandbox inspector (``gateway.events.inspector``) is served in-process.

Events of one TPP go out one at a time, in order (the claim holds later ones back); different TPPs are served
concurrently. Every attempt is one row of the delivery log and a metric. Nothing of this runs on the request
path: the request that changed something only inserted the outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

import httpx
from sqlmodel import select

from consent.notifications import DeliveryState
from consent.notifications import EventNotification
from gateway.events import outbox
from gateway.events.callbacks import CallbackRefused
from gateway.events.callbacks import Resolver
from gateway.events.callbacks import check_target
from gateway.events.callbacks import notification_url
from gateway.events.callbacks import system_resolver
from gateway.events.inspector import Inspector
from gateway.events.tokens import SetSigner
from gateway.observability import metrics
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.db import utcnow
from gateway.store.event_tables import EventDeliveryAttempt
from gateway.store.event_tables import EventSubscription

log = logging.getLogger("obgw.events")
BATCH = 50


def backoff(*, attempt: int, base_ms: int, cap_ms: int) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based): doubling from ``base_ms``, at most ``cap_ms``."""
    return timedelta(milliseconds=min(cap_ms, base_ms * 2 ** max(0, attempt - 1)))


class DeliveryWorker:
    def __init__(
        self, *, db: Database, signer: SetSigner, settings: Settings, http: httpx.AsyncClient | None = None,
        resolver: Resolver = system_resolver, clock: Callable[[], datetime] = utcnow, batch: int = BATCH,
        inspector: Inspector | None = None,
    ) -> None:
        self.db = db
        self.signer = signer
        self.settings = settings
        self.production = settings.mode == "production"
        self.timeout = settings.event_timeout_ms / 1000
        self.http = http or httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        self._own_http = http is None
        self.resolver = resolver
        self.inspector = inspector if not self.production else None  # the sandbox's own callback, never in production
        self.clock = clock
        self.batch = batch  # events claimed per round
        # Longer than a push can take, so a live worker's claim never runs out under it.
        self.lease = timedelta(seconds=4 * self.timeout + 5)
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Until ``stop``: deliver what is due; when nothing was, wait the idle interval (or until stopped)."""
        interval = self.settings.event_poll_interval_ms / 1000
        while not self._stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the database is away, say: log and try again later, never die
                log.exception("event delivery round failed")
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def run_once(self) -> int:
        """One round: claim due events and push them (one TPP's in order); returns how many were handled."""
        claimed = await outbox.claim_due(db=self.db, now=self.clock(), lease=self.lease, limit=self.batch)
        by_client: dict[str, list[EventNotification]] = {}
        for event in claimed:
            by_client.setdefault(event.client_id, []).append(event)
        await asyncio.gather(*(self._deliver_in_order(events) for events in by_client.values()))
        return len(claimed)

    async def _deliver_in_order(self, events: list[EventNotification]) -> None:
        for event in events:
            if not await self.deliver(event):
                return  # an earlier event will be retried: the later ones wait (their lease runs out)

    # ------------------------------------------------------------------ one event

    async def deliver(self, event: EventNotification) -> bool:
        """Push one claimed event; True when it is settled (delivered, held, skipped or failed for good)."""
        async with self.db.session() as session:
            subscription = (
                await session.exec(select(EventSubscription).where(EventSubscription.client_id == event.client_id))
            ).first()
        now = self.clock()
        if subscription is None or not subscription.callback_url:
            await self._settle(event, DeliveryState.POLL, now=now)
            return True
        if subscription.event_types and event.event_type not in subscription.event_types:
            await self._settle(event, DeliveryState.SKIPPED, now=now)
            return True
        url = notification_url(subscription.callback_url)
        attempt = event.attempts + 1
        replay = event.last_error == outbox.REPLAY_MARK
        status: int | None = None
        started = time.perf_counter()
        try:
            headers = {"content-type": "application/jwt", "x-fapi-financial-id": self.settings.aspsp_org_id,
                       "x-fapi-interaction-id": str(uuid.uuid4())}
            owner = self.inspector.owner_of(subscription.callback_url) if self.inspector is not None else None
            if owner is not None:
                status = self._to_inspector(owner, event=event, headers=headers, now=now)
            else:
                target = await check_target(url, production=self.production, resolver=self.resolver)
                token = self.signer.sign(event, issued_at=int(now.timestamp()))
                # To the address just checked, not to whatever the name resolves to by now (callbacks module).
                answer = await self.http.post(
                    target.url, content=token, timeout=self.timeout, headers={"host": target.host_header, **headers},
                    extensions={"sni_hostname": target.server_name} if target.server_name else None,
                )
                status = answer.status_code
            error = "" if 200 <= status < 300 else f"callback answered {status}"
        except CallbackRefused as exc:
            error, final = f"refused: {exc}", True
        except httpx.HTTPError as exc:
            error, final = f"{type(exc).__name__}: {exc}"[:512], False
        else:
            final = False
        seconds = time.perf_counter() - started
        delivered = status is not None and not error
        if delivered:
            state, outcome = DeliveryState.DELIVERED, "delivered"
        elif final or attempt >= self.settings.event_max_attempts:
            state, outcome = DeliveryState.FAILED, "failed"
        else:
            state, outcome = DeliveryState.PENDING, "retry"
        done = self.clock()
        wait = backoff(attempt=attempt, base_ms=self.settings.event_retry_base_ms,
                       cap_ms=self.settings.event_retry_cap_ms)
        await outbox.finish(
            db=self.db, event=event, state=state, attempts=attempt,
            next_attempt_at=done + wait if state == DeliveryState.PENDING else done,
            delivered_at=done if delivered else None, error=error,
            attempt=EventDeliveryAttempt(
                jti=event.jti, client_id=event.client_id, attempt=attempt, at=now, channel="push", url=url,
                outcome=outcome, status_code=status, latency_ms=int(seconds * 1000), error=error[:512],
                replay=replay,
            ),
        )
        metrics.event_delivery(outcome="retried" if outcome == "retry" else outcome,
                               seconds=seconds if status is not None else None)
        return state != DeliveryState.PENDING

    def _to_inspector(self, owner: str, *, event: EventNotification, headers: dict[str, str],
                      now: datetime) -> int:
        """The push handed to the sandbox inspector in-process (``gateway.events.inspector``): only the TPP's own."""
        assert self.inspector is not None
        if owner != event.client_id:
            raise CallbackRefused("the callback names another client's sandbox inspector")
        token = self.signer.sign(event, issued_at=int(now.timestamp()))
        self.inspector.record(client_id=owner, at=self.clock(), source="worker", headers=headers, body=token)
        return 202

    async def _settle(self, event: EventNotification, state: DeliveryState, *, now: datetime) -> None:
        await outbox.finish(db=self.db, event=event, state=state, attempts=event.attempts, next_attempt_at=now,
                            delivered_at=None, error="", attempt=None)
