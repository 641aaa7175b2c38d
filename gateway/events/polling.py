"""``POST /open-banking/v3.1/events``: aggregated polling (OBIE Event Notification API v3.1.11 ``CreateEvents``,
``OBEventPolling1`` / ``OBEventPollingResponse1``; RFC 8936, Poll-Based Security Event Token Delivery;
docs/obie-notes-vrp-events.md section 3).

In one call the TPP acknowledges (``ack``: jtis it processed) and refuses (``setErrs``: jti -> ``err``,
``description``) events it received before, then receives up to ``maxEvents`` of its events still
unacknowledged, oldest first (``sets``: jti -> the signed token, the same ``jti`` as any push of the event), and
whether more wait (``moreAvailable``). ``maxEvents`` 0 only acknowledges; absent, at most ``MAX_EVENTS``.
``returnImmediately`` ``false`` asks for a long poll (RFC 8936 section 2.4): when nothing waits, the answer is
held until one of the TPP's events is stored (looked for every ``OBGW_EVENT_POLL_INTERVAL_MS``, so an event
stored by any replica ends the hold) or ``OBGW_EVENT_LONG_POLL_MS`` has passed, then given as usual (an empty
``sets`` on time-out). Absent or ``true``, the answer is immediate. A jti of another TPP, or unknown, is ignored.
Acknowledged and refused events stay in the delivery log.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from typing import Final

from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import wire
from consent.notifications import DeliveryState
from consent.notifications import EventNotification
from gateway.events.bodies import json_body as events_body
from gateway.events.tokens import SetSigner
from gateway.pipeline import message_signing
from gateway.pipeline import steps
from gateway.pipeline.payment_checks import json_response
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Flow
from gateway.services import Services
from gateway.store.db import utcnow
from gateway.store.event_tables import EventDeliveryAttempt

OPERATION: Final = "CreateEvents"
MAX_EVENTS: Final = 100
E = EventNotification
# What a poll hands over: every event not yet settled by the TPP (a pushed one too, until it is acknowledged).
AWAITING: Final = (DeliveryState.PENDING.value, DeliveryState.POLL.value, DeliveryState.DELIVERED.value,
                   DeliveryState.FAILED.value)


class EventPolling:
    def __init__(self, *, services: Services, limits: PaymentLimits, signer: SetSigner) -> None:
        self.services = services
        self.signer = signer
        self.policy = services.policies.by_operation_id[OPERATION]
        self.flow: Flow[Call] = Flow(
            steps=(steps.client_token(services), steps.client_rate_limit(limits), steps.json_media_types,
                   steps.message_signature(services), events_body(services, api="events")),
            action=self._poll,
        )

    async def poll(self, request: Request) -> Response:
        return await self.flow.run(Call(request=request, policy=self.policy))

    async def _settle(self, session: Any, *, client_id: str, jtis: list[str], state: DeliveryState,
                      errors_by_jti: dict[str, str]) -> None:
        if not jtis:
            return
        owned = (await session.exec(
            select(E.jti).where(col(E.client_id) == client_id, col(E.jti).in_(jtis), col(E.state).in_(AWAITING))
        )).all()
        now = utcnow()
        for jti in owned:
            await session.exec(
                update(E).where(col(E.jti) == jti, col(E.client_id) == client_id)
                .values(state=state.value, lease_until=None, last_error=errors_by_jti.get(jti, "")[:512])
                .execution_options(synchronize_session=False)
            )
            session.add(EventDeliveryAttempt(jti=jti, client_id=client_id, attempt=0, at=now, channel="poll",
                                             outcome=state.value, error=errors_by_jti.get(jti, "")[:512]))

    async def _poll(self, call: Call) -> Response:
        body, client_id = call.body, call.caller.client_id
        acks = list(dict.fromkeys(body.get("ack") or []))
        set_errs: dict[str, dict[str, str]] = body.get("setErrs") or {}
        wanted = body.get("maxEvents")
        limit = MAX_EVENTS if wanted is None else max(0, min(int(wanted), MAX_EVENTS))
        answered = set(acks) | set(set_errs)
        async with self.services.db.session() as session:
            await self._settle(session, client_id=client_id, jtis=acks, state=DeliveryState.ACKNOWLEDGED,
                               errors_by_jti={})
            await self._settle(session, client_id=client_id, jtis=[j for j in set_errs if j not in acks],
                               state=DeliveryState.REFUSED,
                               errors_by_jti={j: f"{e.get('err', '')}: {e.get('description', '')}"
                                              for j, e in set_errs.items()})
            await session.commit()
            events = await self._waiting(session, client_id=client_id, limit=limit, answered=answered)
        if limit and not events and body.get("returnImmediately") is False:
            events = await self._hold(client_id=client_id, limit=limit, answered=answered)
        more = len(events) > limit
        handed = events[:limit]
        now = utcnow()
        sets = {e.jti: self.signer.sign(e, issued_at=int(now.timestamp())) for e in handed}
        if handed:
            async with self.services.db.session() as session:
                for e in handed:
                    session.add(EventDeliveryAttempt(jti=e.jti, client_id=client_id, attempt=0, at=now,
                                                     channel="poll", outcome="polled"))
                await session.commit()
        if not limit:
            more = await self._any_waiting(client_id)
        document = {"moreAvailable": more, "sets": sets}
        return json_response(wire.dumps(document), status_code=201, headers=call.rate_headers)

    @staticmethod
    async def _waiting(session: Any, *, client_id: str, limit: int, answered: set[str]) -> list[EventNotification]:
        """Up to ``limit`` + 1 of the TPP's unsettled events, oldest first (the extra one says more wait)."""
        if not limit:
            return []
        query = (select(E).where(col(E.client_id) == client_id, col(E.state).in_(AWAITING))
                 .order_by(col(E.seq)).limit(limit + 1 + len(answered)))
        return [e for e in (await session.exec(query)).all() if e.jti not in answered]

    async def _hold(self, *, client_id: str, limit: int, answered: set[str]) -> list[EventNotification]:
        """The long poll: look again every poll interval until an event waits or the hold's time is up."""
        settings = self.services.settings
        deadline = time.monotonic() + settings.event_long_poll_ms / 1000
        step = settings.event_poll_interval_ms / 1000
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(step, left))
            async with self.services.db.session() as session:
                events = await self._waiting(session, client_id=client_id, limit=limit, answered=answered)
            if events:
                return events
        return []

    async def _any_waiting(self, client_id: str) -> bool:
        async with self.services.db.session() as session:
            row = (await session.exec(
                select(E.seq).where(col(E.client_id) == client_id, col(E.state).in_(AWAITING)).limit(1)
            )).first()
        return row is not None

    def routes(self) -> list[BaseRoute]:
        route = Route(self.policy.path, self.poll, methods=["POST"], name="events:poll")
        # Both signature flags obeyed if set; the shipped rulebook sets neither (the document declares none here).
        return [message_signing.sign_responses(route, self.services,
                                              operations=self.services.policies.operations_at(route.path))]
