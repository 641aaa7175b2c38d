"""The payment-order endpoints (OBIE R/W API v3.1.11 Payment Initiation, docs/obie-notes.md sections 2.2, 3.2, 9).

* ``POST /domestic-payments``, ``/domestic-scheduled-payments``, ``/domestic-standing-orders``: the customer's
  token for the consent (authorization-code grant or its refresh, scope ``payments``), ``x-jws-signature`` over
  the raw body checked before anything else where the rulebook marks the operation ``signed_request`` (R/W API
  "Message Signing"), ``x-idempotency-key`` (docs/obie-notes.md section 5), the
  body against the operation's schema, ``Data.ConsentId`` = the token's consent, the consent ``Authorised`` and
  this client's and customer's, ``Initiation`` and ``Risk`` equal to the consent's (else 400
  ``UK.OBIE.Resource.ConsentMismatch``, docs/obie-notes.md section 9 step 4). The bank executes the order from the debtor account the
  customer chose at approval; the gateway's idempotency record and the consent's ``Consumed`` status are stored
  together (``payments_store``). 201 ``OBWriteDomesticResponse5`` (and siblings), a replay the same body.
* ``GET /{collection}/{PaymentId}`` and ``.../payment-details``: the TPP's client-credentials token; the status
  comes from the bank (Pending -> AcceptedSettlementInProcess -> AcceptedSettlementCompleted).
* ``GET /domestic-payment-consents/{ConsentId}/funds-confirmation``: the customer's token (PISP profile: "AC"),
  the consent ``Authorised`` (else 400 ``UK.OBIE.Resource.InvalidConsentStatus``, docs/obie-notes.md section 9 step 3) ->
  ``OBWriteFundsConfirmationResponse1`` from the debtor account's balance.

Every answer with a body, refusals included, of an operation the rulebook marks ``signed_response`` carries the
gateway's ``x-jws-signature`` (PISP endpoint table: "Signed Response"; ``gateway.pipeline.message_signing.sign_responses``).

Rate limits (docs/architecture.md section 3 step 5, ``policies/rate-limits.yaml``), counted right after the token so a
refused call creates, executes and reads nothing: customer-token calls spend the client's tier budget of the
route's rate class and the per-consent budget of the token's consent; client-token GETs spend the tier budget
only (they name a payment, not a consent). The PSD2 RTS Art. 36(5)(b) unattended-access rule is an AIS rule
(docs/obie-notes.md section 10); the rulebook's ``unattended.scopes`` keeps it off the ``payments`` scope. A refusal is 429
with ``Retry-After`` (R/W API "429 (Too Many Requests)"); a success carries ``RateLimit-*`` headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import service as consent_service
from consent import wire
from consent.models import Consent
from gateway import errors
from gateway.backend.bank import Bank
from gateway.backend.upstream import upstream_error
from gateway.contract.policies.routes import RoutePolicy
from gateway.events import payment_status
from gateway.pipeline import message_signing
from gateway.pipeline import payment_replay
from gateway.pipeline import steps
from gateway.pipeline.payment_checks import another_clients
from gateway.pipeline.payment_checks import authorised_consent
from gateway.pipeline.payment_checks import json_response
from gateway.pipeline.payment_checks import mismatch
from gateway.pipeline.payment_checks import not_found
from gateway.pipeline.payment_kinds import FUNDS_OPERATION
from gateway.pipeline.payment_kinds import KINDS
from gateway.pipeline.payment_kinds import PAYMENTS_API
from gateway.pipeline.payment_kinds import OrderKind
from gateway.pipeline.payment_kinds import response_data_fields
from gateway.pipeline.payment_kinds import scheme_statuses
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.payment_replay import PaymentCall
from gateway.pipeline.payments_store import Claim
from gateway.pipeline.payments_store import PaymentOrderStore
from gateway.pipeline.payments_store import StoredAnswer
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Flow
from gateway.services import Services
from gateway.store.db import utcnow


@dataclass(kw_only=True, slots=True)
class OrderCall(PaymentCall):
    """A payment-order call: its collection, details or the order itself."""

    kind: OrderKind
    details: bool = False


class PaymentsApi:
    def __init__(
        self, *, services: Services, bank: Bank, store: PaymentOrderStore, kinds: tuple[OrderKind, ...],
        limits: PaymentLimits, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.bank = bank
        self.store = store
        self.limits = limits
        self.kinds = MappingProxyType({k.collection: k for k in kinds})
        self.clock = clock
        self.public_base = services.settings.issuer.rstrip("/")
        self.base_path = services.specs.apis[PAYMENTS_API].base_path
        policies = services.policies.by_operation_id
        self.policies: Mapping[str, RoutePolicy] = MappingProxyType(
            {op: policies[op] for k in kinds for op in (k.create_operation, k.read_operation, k.details_operation)}
            | {FUNDS_OPERATION: policies[FUNDS_OPERATION]}
        )
        # The declared steps of each operation (gateway.pipeline.steps), then its action.
        token, rate_limit = steps.customer_token(services), steps.customer_rate_limit(limits)
        self.create_flow: Flow[OrderCall] = Flow(
            steps=(token, payment_replay.replay_lookup(store=store, limits=limits, clock=clock), rate_limit, steps.json_media_types, steps.message_signature(services),
                   steps.idempotency_key, steps.json_body(services)),
            action=self._order,
        )
        self.read_flow: Flow[OrderCall] = Flow(
            steps=(steps.client_token(services), steps.client_rate_limit(limits), steps.json_accept),
            action=self._answer_read,
        )
        self.funds_flow: Flow[Call] = Flow(steps=(token, rate_limit, steps.json_accept), action=self._funds)

    @classmethod
    def build(cls, services: Services) -> PaymentsApi:
        """Everything prepared once (docs/architecture.md section 3, hot-path rule)."""
        document = services.specs.apis[PAYMENTS_API].document
        kinds = tuple(
            OrderKind(**{**k.__dict__, "data_fields": response_data_fields(
                document, path=f"/{k.collection}", method="post", status="201")})
            for k in KINDS
        )
        store = PaymentOrderStore(db=services.db, window=services.policies.fapi.idempotency_window)
        return cls(services=services, bank=services.bank, store=store, kinds=kinds,
                   limits=PaymentLimits.from_services(services))

    # ------------------------------------------------------------------ rendering

    def _order_document(self, kind: OrderKind, data: Mapping[str, Any]) -> dict[str, Any]:
        payment_id = data.get(kind.id_field)
        if not isinstance(payment_id, str) or not payment_id:
            raise upstream_error(502, "The payment service answered an unexpected document")
        return {
            "Data": {name: value for name, value in data.items() if name in kind.data_fields},
            "Links": {"Self": f"{self.public_base}{self.base_path}/{kind.collection}/{payment_id}"},
            "Meta": {},
        }

    # ------------------------------------------------------------------ POST a payment order

    async def create(self, request: Request) -> Response:
        kind = self.kinds[request.url.path.removeprefix(self.base_path + "/")]
        return await self.create_flow.run(OrderCall(request=request, policy=self.policies[kind.create_operation],
                                                    kind=kind))

    async def _order(self, call: OrderCall) -> Response:
        """``call.known`` is the record already under the presented key: a replay, which spends no submit budget."""
        request, kind, access, known, rate_headers = call.request, call.kind, call.customer, call.known, call.rate_headers
        # The rulebook's idempotent flag: without it every POST is a new order, stored under a key of our own
        # that no retry can present (the store keys every order).
        key = call.idempotency_key if call.idempotency_key is not None else uuid.uuid4().hex
        body = call.body
        data, risk = body["Data"], body["Risk"]
        consent_id = data["ConsentId"]
        client_id = access.client.client_id
        request_hash = wire.request_hash(body)

        if known is not None:
            answer = self.store.replay_of(known, request_hash=request_hash)
            if answer is not None:
                return json_response(answer.body, status_code=answer.status, headers=rate_headers)

        try:
            consent, grant = await authorised_consent(services=self.services, access=access, consent_id=consent_id,
                                                      endpoint=kind.create_operation, now=self.clock())
        except errors.InvalidConsentStatus:
            # A duplicate racing the first submission: it may have consumed the consent since the lookup above.
            settled = await self.store.settled_answer(client_id=client_id, key=key, request_hash=request_hash,
                                                      now=self.clock)
            if settled is None:
                raise
            return json_response(settled.body, status_code=settled.status, headers=rate_headers)
        if consent.kind != kind.consent_kind:
            raise mismatch(f"The consent is not a {kind.consent_kind} consent", "Data.ConsentId", detail=consent_id)
        # docs/obie-notes.md section 9 step 4: Initiation and Risk must match the consent's exactly.
        if data["Initiation"] != consent.data.get("Initiation"):
            raise mismatch("The Initiation does not match the consent", "Data.Initiation", detail=consent_id)
        if risk != consent.risk:
            raise mismatch("The Risk does not match the consent", "Risk", detail=consent_id)

        claim = await self.store.acquire(
            client_id=client_id, key=key, request_hash=request_hash, kind=kind.collection, consent_id=consent_id,
            psu_id=grant.psu_id, account_id=grant.account_ids[0], now=self.clock,
        )
        if claim.answer is not None:
            return json_response(claim.answer.body, status_code=claim.answer.status, headers=rate_headers)
        answer = await self._execute(request, kind=kind, claim=claim, key=key, consent=consent, grant=grant)
        return json_response(answer.body, status_code=answer.status, headers=rate_headers)

    async def _execute(
        self, request: Request, *, kind: OrderKind, claim: Claim, key: str, consent: Consent,
        grant: consent_service.ConsentGrant,
    ) -> StoredAnswer:
        async def call() -> dict[str, Any]:
            _, data = await self.bank.execute_payment(
                collection=kind.collection, consent_id=consent.consent_id, psu_id=grant.psu_id,
                account_id=grant.account_ids[0], idempotency_key=key, initiation=consent.data["Initiation"],
                interaction_id=errors.interaction_id(request),
            )
            return self._order_document(kind, data)

        document = await self.store.at_bank(claim, call=call, now=self.clock,
                                            refused="The payment service refused the order")
        # R/W API "Idempotency": a replay answers 201 too, with the resource as created.
        answer = StoredAnswer(status=201, body=wire.dumps(document), payment_id=document["Data"][kind.id_field])
        stored = await self.store.complete(claim, answer=answer, consent_id=consent.consent_id,
                                           client_id=grant.client_id, at=self.clock())
        # The status the TPP is told now is the first one the gateway knows: announcing it would tell the TPP
        # what it just did (docs/architecture.md section 7).
        await payment_status.baseline(db=self.services.db, collection=kind.collection,
                                      payment_id=answer.payment_id, status=document["Data"].get("Status"),
                                      at=self.clock())
        return stored

    # ------------------------------------------------------------------ GET a payment order

    async def read(self, request: Request, *, kind: OrderKind) -> Response:
        return await self.read_flow.run(OrderCall(request=request, policy=self.policies[kind.read_operation],
                                                  kind=kind))

    async def details(self, request: Request, *, kind: OrderKind) -> Response:
        return await self.read_flow.run(OrderCall(request=request, policy=self.policies[kind.details_operation],
                                                  kind=kind, details=True))

    async def _answer_read(self, call: OrderCall) -> Response:
        request, kind, details, rate_headers = call.request, call.kind, call.details, call.rate_headers
        caller = call.caller
        payment_id = request.path_params["payment_id"]
        record = await self.store.by_payment(payment_id=payment_id)
        if record is None or record.kind != kind.collection:
            raise not_found("Payment order", detail=payment_id)
        if record.client_id != caller.client_id:
            raise another_clients("Payment order", detail=f"{payment_id} asked by {caller.client_id}")
        data = await self.bank.read_payment(collection=kind.collection, payment_id=payment_id,
                                            consent_id=record.consent_id, psu_id=record.psu_id, details=details,
                                            interaction_id=errors.interaction_id(request))
        if data is None:
            raise not_found("Payment order", detail=f"{payment_id}: unknown to the bank")
        # A status the bank reports is news for the TPP's other systems too: stored with its event.
        await payment_status.learn(db=self.services.db, collection=kind.collection, payment_id=payment_id,
                                   status=data.get("Status"), at=self.clock(), txn=errors.interaction_id(request),
                                   record=record)
        if details:
            document = {"Data": scheme_statuses(data), "Links": {"Self": f"{self.public_base}{request.url.path}"},
                        "Meta": {}}
        else:
            document = self._order_document(kind, data)
        return json_response(wire.dumps(document), status_code=200, headers=rate_headers)

    # ------------------------------------------------------------------ funds confirmation on a payment consent

    async def funds_confirmation(self, request: Request) -> Response:
        return await self.funds_flow.run(Call(request=request, policy=self.policies[FUNDS_OPERATION]))

    async def _funds(self, call: Call) -> Response:
        request, access, rate_headers = call.request, call.customer, call.rate_headers
        consent_id = request.path_params["ConsentId"]
        if consent_id != access.token.consent_id:
            raise another_clients("Consent", detail=f"{consent_id} with a token for {access.token.consent_id}")
        consent, grant = await authorised_consent(services=self.services, access=access, consent_id=consent_id,
                                                  endpoint=FUNDS_OPERATION, now=self.clock())
        amount = consent.data.get("Initiation", {}).get("InstructedAmount", {})
        result = await self.bank.funds(
            purpose="pis", psu_id=grant.psu_id, account_id=grant.account_ids[0], amount=str(amount.get("Amount")),
            currency=str(amount.get("Currency")), interaction_id=errors.interaction_id(request),
        )
        document = {
            "Data": {"FundsAvailableResult": {"FundsAvailableDateTime": result.at,
                                              "FundsAvailable": result.available}},
            "Links": {"Self": f"{self.public_base}{request.url.path}"},
            "Meta": {},
        }
        return json_response(wire.dumps(document), status_code=200, headers=rate_headers)

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        """Every payment-order route, its answers signed as the rulebook says (module docstring). Methods outside the spec are 405
        (Starlette answers them before the handler)."""
        plain: list[tuple[Route, str]] = []
        for kind in self.kinds.values():
            base = f"{self.base_path}/{kind.collection}"
            plain += [
                (Route(base, self.create, methods=["POST"], name=f"pis:{kind.collection}"), kind.create_operation),
                (Route(base + "/{payment_id:str}", self._bound(kind, self.read), methods=["GET"],
                       name=f"pis:{kind.collection}-item"), kind.read_operation),
                (Route(base + "/{payment_id:str}/payment-details", self._bound(kind, self.details),
                       methods=["GET"], name=f"pis:{kind.collection}-details"), kind.details_operation),
            ]
        plain.append((Route(f"{self.base_path}/domestic-payment-consents/{{ConsentId:str}}/funds-confirmation",
                            self.funds_confirmation, methods=["GET"], name="pis:funds-confirmation"),
                      FUNDS_OPERATION))
        return [message_signing.sign_responses(route, self.services,
                                              operations=dict.fromkeys(route.methods or (), operation))
                for route, operation in plain]

    @staticmethod
    def _bound(kind: OrderKind, endpoint: Callable[..., Any]) -> Callable[[Request], Any]:
        async def bound(request: Request) -> Response:
            return await endpoint(request, kind=kind)  # type: ignore[no-any-return]

        return bound
