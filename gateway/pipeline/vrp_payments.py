"""The variable recurring payment endpoints (OBIE VRP API v3.1.11, ``openapi/obie/vrp/v3.1.11/vrp-openapi.yaml``;
docs/obie-notes-vrp-events.md sections 1, 2 and 5), flows over ``gateway.pipeline.steps``.

* ``POST /domestic-vrps`` (``domesticVrpPost``): the customer's token for the VRP consent (authorization-code
  grant or its refresh, scope ``payments``), the replay lookup and the rate limits, ``x-jws-signature`` over the
  raw body, ``x-idempotency-key``, the body against ``OBDomesticVRPRequest``; then ``Data.ConsentId`` = the token's
  consent, ``Authorised``, this client's and customer's; the request agrees with the consent
  (``gateway.pipeline.vrp_checks``); the payment is admitted against ``ControlParameters`` atomically with its
  idempotency record (``gateway.pipeline.vrp_store``: a refusal is 400 ``UK.OBIE.Rules.FailsControlParameters``
  and stores nothing); the bank executes it from the debtor account the customer chose. 201
  ``OBDomesticVRPResponse``; a replay of the key answers the same body. The consent stays ``Authorised``.
* ``GET /domestic-vrps/{DomesticVRPId}`` and ``.../payment-details``: the TPP's client-credentials token (as for
  the other payment orders: the PISP profile reads payment status with client credentials); the status from the
  bank. A payment the bank reports ``Rejected`` stops counting against the limits.
* ``POST /domestic-vrp-consents/{ConsentId}/funds-confirmation``: the customer's token for that consent,
  ``x-jws-signature``, ``OBVRPFundsConfirmationRequest`` -> 201 ``OBVRPFundsConfirmationResponse`` from the debtor
  account's balance (``Available`` | ``NotAvailable``).

The remaining allowance of each periodic limit has no field in the v3.1.11 responses, so every answer of
``POST /domestic-vrps`` carries it in ``x-obgw-vrp-remaining`` (``gateway.pipeline.vrp_store.allowance_headers``),
as the unattended AIS budget travels in headers. Every answer with a body of an operation the rulebook marks
``signed_response`` is signed (``gateway.pipeline.message_signing.sign_responses``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import service as consent_service
from consent import vrp_controls
from consent import wire
from consent.lifecycle import ConsentKind
from consent.models import Consent
from consent.vrp_controls import Allowance
from gateway import errors
from gateway.backend.bank import VRP_COLLECTION
from gateway.backend.bank import Bank
from gateway.backend.upstream import upstream_error
from gateway.contract.policies.routes import RoutePolicy
from gateway.events import payment_status
from gateway.pipeline import message_signing
from gateway.pipeline import steps
from gateway.pipeline.payment_checks import another_clients
from gateway.pipeline.payment_checks import authorised_consent
from gateway.pipeline.payment_checks import json_response
from gateway.pipeline.payment_checks import mismatch
from gateway.pipeline.payment_checks import not_found
from gateway.pipeline.payment_checks import record_funds_check
from gateway.pipeline.payment_kinds import response_data_fields
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.payment_replay import PaymentCall
from gateway.pipeline.payment_replay import replay_lookup
from gateway.pipeline.payments_store import Claim
from gateway.pipeline.payments_store import StoredAnswer
from gateway.pipeline.steps import Flow
from gateway.pipeline.vrp_checks import check_against_consent
from gateway.pipeline.vrp_store import VrpPaymentStore
from gateway.pipeline.vrp_store import allowance_headers
from gateway.services import Services
from gateway.store.db import utcnow

VRP_API: Final = "vrp"  # gateway.contract.specs.API_FILES
CREATE_OPERATION: Final = "domesticVrpPost"
READ_OPERATION: Final = "domesticVrpGet"
DETAILS_OPERATION: Final = "domesticVrpPaymentDetailsGet"
FUNDS_OPERATION: Final = "domesticVrpConsentsFundsConfirmation"
ID_FIELD: Final = "DomesticVRPId"
FUNDS_ENDPOINT: Final = "/domestic-vrp-consents/{ConsentId}/funds-confirmation"
REJECTED: Final = "Rejected"


@dataclass(kw_only=True, slots=True)
class VrpCall(PaymentCall):
    details: bool = False


class VrpPaymentsApi:
    def __init__(
        self, *, services: Services, bank: Bank, store: VrpPaymentStore, limits: PaymentLimits,
        data_fields: frozenset[str], clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.bank = bank
        self.store = store
        self.limits = limits
        self.data_fields = data_fields
        self.clock = clock
        self.public_base = services.settings.issuer.rstrip("/")
        self.base_path = services.specs.apis[VRP_API].base_path
        policies = services.policies.by_operation_id
        self.policies: Mapping[str, RoutePolicy] = MappingProxyType(
            {op: policies[op] for op in (CREATE_OPERATION, READ_OPERATION, DETAILS_OPERATION, FUNDS_OPERATION)})
        token, rate_limit = steps.customer_token(services), steps.customer_rate_limit(limits)
        signature, body = steps.message_signature(services), steps.json_body(services)
        self.create_flow: Flow[VrpCall] = Flow(
            steps=(token, replay_lookup(store=store, limits=limits, clock=clock), rate_limit, steps.json_media_types,
                   signature, steps.idempotency_key, body),
            action=self._pay,
        )
        self.read_flow: Flow[VrpCall] = Flow(
            steps=(steps.client_token(services), steps.client_rate_limit(limits), steps.json_accept),
            action=self._read,
        )
        self.funds_flow: Flow[VrpCall] = Flow(
            steps=(token, rate_limit, steps.json_media_types, signature, body), action=self._funds)

    @classmethod
    def build(cls, services: Services, *, limits: PaymentLimits) -> VrpPaymentsApi:
        """Everything prepared once (docs/architecture.md section 3, hot-path rule); the budgets are the payment
        APIs' (one ``PaymentLimits`` per process)."""
        document = services.specs.apis[VRP_API].document
        store = VrpPaymentStore(db=services.db, window=services.policies.fapi.idempotency_window)
        return cls(services=services, bank=services.bank, store=store, limits=limits,
                   data_fields=response_data_fields(document, path=f"/{VRP_COLLECTION}", method="post",
                                                    status="201"))

    # ------------------------------------------------------------------ rendering

    def _document(self, data: Mapping[str, Any], *, risk: Any) -> dict[str, Any]:
        payment_id = data.get(ID_FIELD)
        if not isinstance(payment_id, str) or not payment_id:
            raise upstream_error(502, "The payment service answered an unexpected document")
        return {
            "Data": {name: value for name, value in data.items() if name in self.data_fields},
            "Risk": risk,
            "Links": {"Self": f"{self.public_base}{self.base_path}/{VRP_COLLECTION}/{payment_id}"},
            "Meta": {},
        }

    async def _remaining(self, consent: Consent) -> list[Allowance]:
        controls = vrp_controls.parse(consent.data["ControlParameters"])
        return await self.store.allowances(
            consent_id=consent.consent_id, controls=controls, at=self.clock(),
            anchor=vrp_controls.anchor_of(controls=controls, created=consent.created_at))

    # ------------------------------------------------------------------ POST /domestic-vrps

    async def create(self, request: Request) -> Response:
        return await self.create_flow.run(VrpCall(request=request, policy=self.policies[CREATE_OPERATION]))

    async def _pay(self, call: VrpCall) -> Response:
        access, rate_headers = call.customer, call.rate_headers
        key = call.idempotency_key if call.idempotency_key is not None else uuid.uuid4().hex
        body = call.body
        data, risk = body["Data"], body["Risk"]
        consent_id = data["ConsentId"]
        client_id = access.client.client_id
        request_hash = wire.request_hash(body)
        if call.known is not None:
            answer = self.store.replay_of(call.known, request_hash=request_hash)
            if answer is not None:
                return json_response(answer.body, status_code=answer.status, headers=rate_headers)

        consent, grant = await authorised_consent(services=self.services, access=access, consent_id=consent_id,
                                                  endpoint=CREATE_OPERATION, now=self.clock())
        if consent.kind != ConsentKind.DOMESTIC_VRP:
            raise mismatch("The consent is not a domestic VRP consent", "Data.ConsentId", detail=consent_id)
        check_against_consent(data=data, risk=risk, consent_data=consent.data, consent_risk=consent.risk,
                              consent_id=consent_id)
        controls = vrp_controls.parse(consent.data["ControlParameters"])
        money = data["Instruction"]["InstructedAmount"]
        admitted: list[Allowance] = []
        admit = self.store.admission(
            consent_id=consent_id, controls=controls, admitted=admitted,
            anchor=vrp_controls.anchor_of(controls=controls, created=consent.created_at),
            amount=vrp_controls.amount_of(money["Amount"], path="Data.Instruction.InstructedAmount.Amount"),
            currency=str(money["Currency"]), interaction_type=data.get("PSUInteractionType"),
        )
        claim = await self.store.acquire(
            client_id=client_id, key=key, request_hash=request_hash, kind=VRP_COLLECTION, consent_id=consent_id,
            psu_id=grant.psu_id, account_id=grant.account_ids[0], now=self.clock, admit=admit,
        )
        if claim.answer is not None:
            return json_response(claim.answer.body, status_code=claim.answer.status, headers=rate_headers)
        answer, rejected = await self._execute(call.request, claim=claim, key=key, consent=consent, grant=grant,
                                               instruction=data["Instruction"])
        if rejected:
            await self.store.uncount(payment_id=answer.payment_id)
            admitted = await self._remaining(consent)
        return json_response(answer.body, status_code=answer.status,
                             headers={**rate_headers, **allowance_headers(admitted)})

    async def _execute(
        self, request: Request, *, claim: Claim, key: str, consent: Consent, grant: consent_service.ConsentGrant,
        instruction: dict[str, Any],
    ) -> tuple[StoredAnswer, bool]:
        async def call() -> tuple[dict[str, Any], dict[str, Any]]:
            _, data = await self.bank.execute_vrp(
                consent_id=consent.consent_id, psu_id=grant.psu_id, account_id=grant.account_ids[0],
                idempotency_key=key, initiation=consent.data["Initiation"], instruction=instruction,
                interaction_id=errors.interaction_id(request),
            )
            return data, self._document(data, risk=consent.risk)

        # Until the bank answers, the payment keeps counting against the limits (fail closed).
        data, document = await self.store.at_bank(claim, call=call, now=self.clock,
                                                  refused="The payment service refused the payment")
        answer = StoredAnswer(status=201, body=wire.dumps(document), payment_id=document["Data"][ID_FIELD])
        stored = await self.store.complete(claim, answer=answer, consent_id=consent.consent_id,
                                           client_id=grant.client_id, at=self.clock())
        # What the TPP is told now is the first status the gateway knows, announced to nobody (section 7).
        await payment_status.baseline(db=self.services.db, collection=VRP_COLLECTION, payment_id=answer.payment_id,
                                      status=data.get("Status"), at=self.clock())
        return stored, data.get("Status") == REJECTED

    # ------------------------------------------------------------------ GET /domestic-vrps/{DomesticVRPId}

    async def read(self, request: Request) -> Response:
        return await self.read_flow.run(VrpCall(request=request, policy=self.policies[READ_OPERATION]))

    async def details(self, request: Request) -> Response:
        return await self.read_flow.run(VrpCall(request=request, policy=self.policies[DETAILS_OPERATION],
                                                details=True))

    async def _read(self, call: VrpCall) -> Response:
        request, caller = call.request, call.caller
        payment_id = request.path_params["DomesticVRPId"]
        record, consent = await self.store.with_consent(payment_id=payment_id)
        if record is None:
            raise not_found("Domestic VRP", detail=payment_id)
        if record.client_id != caller.client_id:
            raise another_clients("Domestic VRP", detail=f"{payment_id} asked by {caller.client_id}")
        data = await self.bank.read_payment(collection=VRP_COLLECTION, payment_id=payment_id,
                                            consent_id=record.consent_id, psu_id=record.psu_id,
                                            details=call.details, interaction_id=errors.interaction_id(request))
        if data is None:
            raise not_found("Domestic VRP", detail=f"{payment_id}: unknown to the bank")
        # A new status is stored with its resource-update event (gateway.events.payment_status).
        await payment_status.learn(db=self.services.db, collection=VRP_COLLECTION, payment_id=payment_id,
                                   status=data.get("Status"), at=self.clock(), txn=errors.interaction_id(request),
                                   record=record)
        self_link = {"Self": f"{self.public_base}{request.url.path}"}
        if call.details:
            document: dict[str, Any] = {"Data": {"PaymentStatus": data.get("PaymentStatus", [])},
                                        "Links": self_link, "Meta": {}}
        else:
            if data.get("Status") == REJECTED and record.counted:
                await self.store.uncount(payment_id=payment_id)
            owned = consent_service.check_owned(consent, consent_id=record.consent_id, client_id=record.client_id)
            document = self._document(data, risk=owned.risk)
        return json_response(wire.dumps(document), status_code=200, headers=call.rate_headers)

    # ------------------------------------------------------------------ funds confirmation on a VRP consent

    async def funds_confirmation(self, request: Request) -> Response:
        return await self.funds_flow.run(VrpCall(request=request, policy=self.policies[FUNDS_OPERATION]))

    async def _funds(self, call: VrpCall) -> Response:
        request, access = call.request, call.customer
        consent_id = request.path_params["ConsentId"]
        if consent_id != access.token.consent_id:
            raise another_clients("Consent", detail=f"{consent_id} with a token for {access.token.consent_id}")
        data = call.body["Data"]
        if data["ConsentId"] != consent_id:
            raise mismatch("Data.ConsentId is not the consent of the path", "Data.ConsentId", detail=consent_id)
        consent, grant = await authorised_consent(services=self.services, access=access, consent_id=consent_id,
                                                  endpoint=FUNDS_OPERATION, now=self.clock())
        if consent.kind != ConsentKind.DOMESTIC_VRP:
            raise mismatch("The consent is not a domestic VRP consent", "ConsentId", detail=consent_id)
        amount = data["InstructedAmount"]
        result = await self.bank.funds(
            purpose="pis", psu_id=grant.psu_id, account_id=grant.account_ids[0], amount=str(amount["Amount"]),
            currency=str(amount["Currency"]), interaction_id=errors.interaction_id(request),
        )
        # Recorded before the answer, as for the CBPII checks: the customer sees every check and its answer.
        await record_funds_check(services=self.services, request=request, consent_id=consent_id,
                                 client_id=grant.client_id, endpoint=FUNDS_ENDPOINT, available=result.available,
                                 amount=amount, now=self.clock())
        answer: dict[str, Any] = {
            "FundsConfirmationId": uuid.uuid4().hex,
            "ConsentId": consent_id,
            "CreationDateTime": wire.format_datetime(self.clock()),
            "FundsAvailableResult": {"FundsAvailableDateTime": result.at,
                                     "FundsAvailable": "Available" if result.available else "NotAvailable"},
            "InstructedAmount": amount,
        }
        if "Reference" in data:
            answer["Reference"] = data["Reference"]
        return json_response(wire.dumps({"Data": answer}), status_code=201, headers=call.rate_headers)

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        """The VRP payment routes, their answers signed as the rulebook says (module docstring)."""
        base = f"{self.base_path}/{VRP_COLLECTION}"
        plain = [
            (Route(base, self.create, methods=["POST"], name="vrp:domestic-vrps"), CREATE_OPERATION),
            (Route(base + "/{DomesticVRPId:str}", self.read, methods=["GET"], name="vrp:domestic-vrps-item"),
             READ_OPERATION),
            (Route(base + "/{DomesticVRPId:str}/payment-details", self.details, methods=["GET"],
                   name="vrp:domestic-vrps-details"), DETAILS_OPERATION),
            (Route(f"{self.base_path}/domestic-vrp-consents/{{ConsentId:str}}/funds-confirmation",
                   self.funds_confirmation, methods=["POST"], name="vrp:funds-confirmation"), FUNDS_OPERATION),
        ]
        return [message_signing.sign_responses(route, self.services,
                                              operations=dict.fromkeys(route.methods or (), operation))
                for route, operation in plain]
