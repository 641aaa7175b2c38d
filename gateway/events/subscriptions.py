"""``/open-banking/v3.1/event-subscriptions``: the TPP's event subscription (OBIE Event Notification API
v3.1.11, events-openapi.yaml ``CreateEventSubscriptions``, ``GetEventSubscriptions``,
``ChangeEventSubscriptionsEventSubscriptionId``, ``DeleteEventSubscriptionsEventSubscriptionId``;
docs/obie-notes-vrp-events.md section 3).

The TPP's own client-credentials token (``gateway.pipeline.steps.client_token``, the rulebook's scope) and its
tier budget, then the body against the operation's schema. One subscription per TPP: a second POST is 409.
``CallbackUrl`` passes the static SSRF checks of ``gateway.events.callbacks`` and, in the sandbox, names no other
TPP's sandbox inspector (``gateway.events.inspector``) (400 ``UK.OBIE.Field.Invalid``);
``EventTypes`` must be OBIE event URNs the gateway emits. Another TPP's subscription answers like an unknown one.
"""

from __future__ import annotations

import uuid
from typing import Any
from typing import Final

from sqlmodel import col
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import wire
from consent.notifications import EventType
from gateway import errors
from gateway.events.bodies import json_body as events_body
from gateway.events.callbacks import CallbackRefused
from gateway.events.callbacks import check_url
from gateway.events.inspector import Inspector
from gateway.pipeline import message_signing
from gateway.pipeline import steps
from gateway.pipeline.payment_checks import json_response
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Flow
from gateway.services import Services
from gateway.store.db import utcnow
from gateway.store.event_tables import EventSubscription

EVENTS_API: Final = "events"
COLLECTION: Final = "/event-subscriptions"
CREATE, READ, CHANGE, DELETE = (
    "CreateEventSubscriptions", "GetEventSubscriptions", "ChangeEventSubscriptionsEventSubscriptionId",
    "DeleteEventSubscriptionsEventSubscriptionId",
)
KNOWN_TYPES: Final = frozenset(t.value for t in EventType)


def _data(subscription: EventSubscription) -> dict[str, Any]:
    data: dict[str, Any] = {"EventSubscriptionId": subscription.subscription_id, "Version": subscription.version}
    if subscription.callback_url:
        data["CallbackUrl"] = subscription.callback_url
    if subscription.event_types:
        data["EventTypes"] = list(subscription.event_types)
    return data


class EventSubscriptions:
    def __init__(self, *, services: Services, limits: PaymentLimits, inspector: Inspector | None = None) -> None:
        self.services = services
        self.production = services.settings.mode == "production"
        self.inspector = inspector if not self.production else None
        self.base = services.settings.issuer + services.specs.apis[EVENTS_API].base_path
        self.policies = {op: services.policies.by_operation_id[op] for op in (CREATE, READ, CHANGE, DELETE)}
        token, budget = steps.client_token(services), steps.client_rate_limit(limits)
        body = events_body(services, api=EVENTS_API)
        # The TPP's x-jws-signature where the rulebook says signed_request (the shipped one: POST and PUT, which
        # events-openapi.yaml declares it on), checked over the raw body before it is parsed.
        signature = steps.message_signature(services)
        self.create_flow: Flow[Call] = Flow(steps=(token, budget, steps.json_media_types, signature, body),
                                            action=self._create)
        self.read_flow: Flow[Call] = Flow(steps=(token, budget, steps.json_accept), action=self._read)
        self.change_flow: Flow[Call] = Flow(steps=(token, budget, steps.json_media_types, signature, body),
                                            action=self._change)
        self.delete_flow: Flow[Call] = Flow(steps=(token, budget), action=self._delete)

    # ------------------------------------------------------------------ checks

    def _checked(self, data: dict[str, Any], *, client_id: str) -> tuple[str | None, list[str] | None]:
        callback = data.get("CallbackUrl")
        if callback is not None:
            try:
                check_url(callback, production=self.production)
            except CallbackRefused as exc:
                raise errors.FieldInvalid(f"CallbackUrl refused: {exc}", path="Data.CallbackUrl") from None
            owner = self.inspector.owner_of(callback) if self.inspector is not None else None
            if owner is not None and owner != client_id:
                raise errors.FieldInvalid("CallbackUrl refused: it names another client's sandbox inspector",
                                          path="Data.CallbackUrl")
        types = data.get("EventTypes")
        if types is not None:
            unknown = sorted(set(types) - KNOWN_TYPES)
            if unknown:
                raise errors.FieldInvalid(f"unknown event type {unknown[0]}", path="Data.EventTypes")
        return callback, (list(dict.fromkeys(types)) if types else None)

    async def _own(self, call: Call) -> EventSubscription:
        subscription_id = call.request.path_params["subscription_id"]
        async with self.services.db.session() as session:
            subscription = await session.get(EventSubscription, subscription_id)
        if subscription is None or subscription.client_id != call.caller.client_id:
            raise errors.ResourceNotFound(f"no event subscription {subscription_id} of this client",
                                          path="EventSubscriptionId")
        return subscription

    def _answer(self, subscription: EventSubscription, *, status: int, call: Call) -> Response:
        document = {"Data": _data(subscription),
                    "Links": {"Self": f"{self.base}{COLLECTION}/{subscription.subscription_id}"}, "Meta": {}}
        return json_response(wire.dumps(document), status_code=status, headers=call.rate_headers)

    # ------------------------------------------------------------------ actions

    async def _create(self, call: Call) -> Response:
        data = call.body["Data"]
        callback, types = self._checked(data, client_id=call.caller.client_id)
        client_id, now = call.caller.client_id, utcnow()
        async with self.services.db.session() as session:
            exists = (await session.exec(select(EventSubscription).where(
                col(EventSubscription.client_id) == client_id))).first()
            if exists is not None:
                raise errors.ResourceAlreadyExists("This TPP already has an event subscription: change it with PUT",
                                                   path="Data")
            subscription = EventSubscription(subscription_id=uuid.uuid4().hex, client_id=client_id,
                                             callback_url=callback, version=data["Version"], event_types=types,
                                             created_at=now, updated_at=now)
            session.add(subscription)
            try:
                await session.commit()
            except Exception as exc:  # the unique client_id: a concurrent POST won
                await session.rollback()
                if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
                    raise errors.ResourceAlreadyExists("This TPP already has an event subscription",
                                                       path="Data") from None
                raise
        return self._answer(subscription, status=201, call=call)

    async def _read(self, call: Call) -> Response:
        async with self.services.db.session() as session:
            subscriptions = (await session.exec(select(EventSubscription).where(
                col(EventSubscription.client_id) == call.caller.client_id))).all()
        document = {"Data": {"EventSubscription": [_data(s) for s in subscriptions]},
                    "Links": {"Self": f"{self.base}{COLLECTION}"}, "Meta": {}}
        return json_response(wire.dumps(document), status_code=200, headers=call.rate_headers)

    async def _change(self, call: Call) -> Response:
        subscription = await self._own(call)
        data = call.body["Data"]
        if data["EventSubscriptionId"] != subscription.subscription_id:
            raise errors.FieldInvalid("EventSubscriptionId differs from the one in the path",
                                      path="Data.EventSubscriptionId")
        callback, types = self._checked(data, client_id=call.caller.client_id)
        async with self.services.db.session() as session:
            stored = await session.get(EventSubscription, subscription.subscription_id)
            if stored is None:
                raise errors.ResourceNotFound("the event subscription was deleted meanwhile",
                                              path="EventSubscriptionId")
            stored.callback_url, stored.event_types, stored.version = callback, types, data["Version"]
            stored.updated_at = utcnow()
            session.add(stored)
            await session.commit()
        return self._answer(stored, status=200, call=call)

    async def _delete(self, call: Call) -> Response:
        subscription = await self._own(call)
        async with self.services.db.session() as session:
            stored = await session.get(EventSubscription, subscription.subscription_id)
            if stored is not None:
                await session.delete(stored)
                await session.commit()
        return Response(status_code=204, headers={**call.rate_headers, "cache-control": "no-store"})

    # ------------------------------------------------------------------ routes

    def _endpoint(self, flow: Flow[Call], operation: str) -> Any:
        policy = self.policies[operation]

        async def endpoint(request: Request) -> Response:
            return await flow.run(Call(request=request, policy=policy))

        return endpoint

    def routes(self) -> list[BaseRoute]:
        base = self.services.specs.apis[EVENTS_API].base_path + COLLECTION
        served = (
            (base, self.create_flow, CREATE, "POST", "events:subscribe"),
            (base, self.read_flow, READ, "GET", "events:subscriptions"),
            (base + "/{subscription_id}", self.change_flow, CHANGE, "PUT", "events:change-subscription"),
            (base + "/{subscription_id}", self.delete_flow, DELETE, "DELETE", "events:delete-subscription"),
        )
        # The gateway's x-jws-signature on the answers of the operations the rulebook marks signed_response.
        return [message_signing.sign_responses(Route(path, self._endpoint(flow, operation), methods=[method],
                                                     name=name),
                                               self.services, operations={method: operation})
                for path, flow, operation, method, name in served]
