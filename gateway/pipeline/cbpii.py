"""Confirmation of funds for card-based payment instrument issuers (OBIE R/W API v3.1.11 Confirmation of Funds,
docs/obie-notes.md sections 2.3 and 3.3).

``POST /open-banking/v3.1/cbpii/funds-confirmations`` with the customer's token for an ``Authorised``
funds-confirmation consent (authorization-code grant or its refresh, scope ``fundsconfirmations``): the body
``{Data: {ConsentId, Reference, InstructedAmount}}`` is checked against the operation's schema, "the intent-id in
the token must match the ConsentId in the message payload" (COF endpoint table), and the bank answers from the
real available balance of the account the customer chose at approval. 201 ``OBFundsConfirmationResponse1``; no
message signing and no idempotency key on this API (docs/obie-notes.md section 2.3): the shipped rulebook marks the
operation neither ``signed_request`` nor ``signed_response``, and both flags are obeyed if set (the ``idempotent``
flag is not: a funds check changes nothing to replay). Every answered check is recorded in the consent's
audit trail (docs/architecture.md section 3 step 8), before the answer, so none is lost.

Rate limits (docs/architecture.md section 3 step 5): counted right after the token, for the client's tier (rate class
``funds-check``) and the token's consent, so a refused check asks the bank nothing and records nothing; 429 with
``Retry-After``, ``RateLimit-*`` headers on a success. The unattended 4-a-day rule is AIS only (docs/obie-notes.md section 10).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import wire
from consent.lifecycle import ConsentKind
from gateway import errors
from gateway.backend.bank import Bank
from gateway.contract.policies.routes import RoutePolicy
from gateway.pipeline import message_signing
from gateway.pipeline import steps
from gateway.pipeline.payment_checks import authorised_consent
from gateway.pipeline.payment_checks import json_response
from gateway.pipeline.payment_checks import mismatch
from gateway.pipeline.payment_checks import record_funds_check
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Flow
from gateway.services import Services
from gateway.store.db import utcnow

FUNDS_API: Final = "funds"
OPERATION: Final = "CreateFundsConfirmations"
ENDPOINT: Final = "/funds-confirmations"


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


class FundsConfirmations:
    def __init__(
        self, *, services: Services, bank: Bank, limits: PaymentLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.bank = bank
        # Pass the payment API's limits to share one counter storage; without them, limits of its own.
        self.limits = limits or PaymentLimits.from_services(services)
        self.clock = clock
        self.policy: RoutePolicy = services.policies.by_operation_id[OPERATION]
        self.base_path = services.specs.apis[FUNDS_API].base_path
        self.public_base = services.settings.issuer.rstrip("/")
        # The declared steps (gateway.pipeline.steps); the signature only where the rulebook says signed_request,
        # which the shipped one does not (docs/obie-notes.md section 2.3).
        self.flow: Flow[Call] = Flow(
            steps=(steps.customer_token(services), steps.customer_rate_limit(self.limits), steps.json_media_types,
                   steps.message_signature(services), steps.json_body(services)),
            action=self._confirm,
        )

    async def create(self, request: Request) -> Response:
        return await self.flow.run(Call(request=request, policy=self.policy))

    async def _confirm(self, call: Call) -> Response:
        request, access, rate_headers = call.request, call.customer, call.rate_headers
        data = call.body["Data"]
        now = self.clock()
        consent, grant = await authorised_consent(services=self.services, access=access,
                                                  consent_id=data["ConsentId"], endpoint=OPERATION, now=now)
        if consent.kind != ConsentKind.FUNDS_CONFIRMATION:
            raise mismatch("The consent is not a funds-confirmation consent", "Data.ConsentId",
                           detail=consent.consent_id)
        amount = data["InstructedAmount"]
        result = await self.bank.funds(
            purpose="cbpii", psu_id=grant.psu_id, account_id=grant.account_ids[0], amount=amount["Amount"],
            currency=amount["Currency"], interaction_id=errors.interaction_id(request),
        )
        confirmation_id = uuid.uuid4().hex
        await record_funds_check(services=self.services, request=request, consent_id=consent.consent_id,
                                 client_id=grant.client_id, endpoint=ENDPOINT, available=result.available,
                                 amount=amount, now=now)
        document = {
            "Data": {
                "FundsConfirmationId": confirmation_id,
                "ConsentId": consent.consent_id,
                "CreationDateTime": _iso(now),
                "FundsAvailable": result.available,
                "Reference": data["Reference"],
                "InstructedAmount": {"Amount": amount["Amount"], "Currency": amount["Currency"]},
            },
            "Links": {"Self": f"{self.public_base}{self.base_path}{ENDPOINT}/{confirmation_id}"},
            "Meta": {},
        }
        return json_response(wire.dumps(document), status_code=201, headers=rate_headers)

    def routes(self) -> list[BaseRoute]:
        route = Route(self.base_path + ENDPOINT, self.create, methods=["POST"], name="cbpii:funds-confirmations")
        # Signed only if the rulebook marks the operation signed_response (not in the shipped rulebook).
        return [message_signing.sign_responses(route, self.services,
                                              operations=self.services.policies.operations_at(route.path))]
