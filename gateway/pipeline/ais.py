"""The account-information resource API (OBIE R/W API v3.1.11 Account and Transaction API, docs/obie-notes.md section 2.1):
every customer operation of ``policies/routes.yaml`` under ``/open-banking/v3.1/aisp``, through the enforcement
pipeline of docs/architecture.md section 3, declared as a flow (``gateway.pipeline.steps``), one step per module:

1. ``routing``        route -> policy (404/405);
2-3. ``tokens``       customer access token, sender constraint, scope (401/403);
4. ``consent_check``  consent status, owner, customer, permissions, AccountId (403/400), transaction window;
5. ``validation``     Accept, FAPI headers, query parameters (406/400);
6. ``ratelimit``      tier, consent and unattended budgets (429);
7. ``proxy``          the bank call with the signed consent context (502/503/504 via ``gateway.backend.bank``);
8. ``shaping``/``audit``  the response cut to the consent, the access recorded.

Validation runs after the consent check and before the rate limits (docs/architecture.md section 3 lists it after them) so that a
malformed request never spends one of the customer's four unattended accesses a day.

Wiring (``gateway.app``): ``AisPipeline.build(services)`` at start-up, stored as ``app.state.ais_pipeline``;
``routes()`` in the route list (after the consent endpoints, which share the prefix), ``fallback_routes()``
last; ``await pipeline.close()`` in the lifespan's shutdown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent.access import ConsentGrant
from consent.wire import JSON_MEDIA_TYPE
from gateway.backend.upstream import UpstreamResponse
from gateway.backend.upstream import upstream_error
from gateway.errors import NotFound
from gateway.errors import ObError
from gateway.errors import interaction_id
from gateway.pipeline import audit
from gateway.pipeline import message_signing
from gateway.pipeline import steps
from gateway.pipeline.consent_check import Window
from gateway.pipeline.consent_check import check_consent
from gateway.pipeline.consent_check import clamp_window
from gateway.pipeline.proxy import BOOKING_FROM
from gateway.pipeline.proxy import BOOKING_TO
from gateway.pipeline.proxy import context_claims
from gateway.pipeline.proxy import upstream_query
from gateway.pipeline.ratelimit import RateLimiter
from gateway.pipeline.ratelimit import tier_of
from gateway.pipeline.routing import RouteMatch
from gateway.pipeline.routing import RouteTable
from gateway.pipeline.shaping import shape
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Flow
from gateway.pipeline.validation import RequestValidator
from gateway.pipeline.validation import ValidatedRequest
from gateway.services import Services
from gateway.store.db import utcnow

STATE_KEY: Final = "ais_pipeline"
# Starlette routes a function to GET/HEAD only unless told; the pipeline must see every method to answer 405.
ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Bank answers passed on as they are: its own OBIE refusals of a checked call (e.g. an unknown StatementId is
# 400 UK.OBIE.Resource.NotFound). Anything else that is not 200 means the gateway-bank contract broke: 502.
_PASSED_STATUSES: Final = frozenset({400, 404})


@dataclass(kw_only=True, slots=True)
class AisCall(Call):
    """An AIS read: its route, then the consent's grant, the validated query and the clamped window."""

    match: RouteMatch
    now: datetime
    grant: ConsentGrant | None = None  # _consent
    checked: ValidatedRequest | None = None  # _query
    window: Window | None = None

    @property
    def consented(self) -> ConsentGrant:
        if self.grant is None:
            raise ObError("An AIS step ran before the consent check")  # a flow's order is wrong: 500
        return self.grant

    @property
    def validated(self) -> ValidatedRequest:
        if self.checked is None:
            raise ObError("An AIS step ran before the query check")  # fail closed: 500
        return self.checked


class AisPipeline:
    def __init__(
        self,
        *,
        services: Services,
        table: RouteTable,
        validator: RequestValidator,
        limiter: RateLimiter,
        recorder: audit.AccessRecorder,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.table = table
        self.validator = validator
        self.limiter = limiter
        self.recorder = recorder
        self.clock = clock
        # The bank builds Links as {public base}/open-banking/v3.1/aisp/...: the base is the gateway's origin.
        self.public_base = services.settings.issuer
        # The declared steps (gateway.pipeline.steps; module docstring), then the bank call, shaping and audit.
        self.flow: Flow[AisCall] = Flow(
            steps=(steps.customer_token(services), self._consent, self._query, self._rate_limit),
            action=self._forward,
        )

    @classmethod
    def build(cls, services: Services) -> AisPipeline:
        """Everything the pipeline needs per request, prepared once (docs/architecture.md section 3, hot-path rule)."""
        rate_limits = services.policies.rate_limits
        return cls(
            services=services,
            table=RouteTable.build(specs=services.specs, policies=services.policies),
            validator=RequestValidator.build(
                specs=services.specs, presence_header=rate_limits.unattended.presence_header
            ),
            limiter=RateLimiter.create(policy=rate_limits, redis_url=services.settings.redis_url,
                                       prefix=services.settings.redis_prefix),
            recorder=audit.AccessRecorder(db=services.db),
        )

    async def handle(self, request: Request) -> Response:
        match = self.table.match(method=request.method, path=request.url.path)
        return await self.flow.run(AisCall(request=request, policy=match.policy, match=match, now=self.clock()))

    async def _consent(self, call: AisCall) -> None:
        call.grant = await check_consent(services=self.services, access=call.customer, match=call.match, now=call.now)

    async def _query(self, call: AisCall) -> None:
        call.checked = checked = self.validator.validate(
            operation_id=call.policy.operation_id, query=call.request.query_params, headers=call.request.headers
        )
        if call.match.route.resource == "transactions":
            call.window = clamp_window(
                requested=Window(start=checked.dates.get(BOOKING_FROM), end=checked.dates.get(BOOKING_TO)),
                grant=call.consented,
            )

    async def _rate_limit(self, call: AisCall) -> None:
        access = call.customer
        call.rate_headers = await self.limiter.check(
            client_id=access.client.client_id,
            tier=tier_of(access.client),
            route=call.policy,
            consent_id=call.consented.consent_id,
            account_id=call.match.account_id,
            customer_present=call.validated.customer_present,
        )
        call.request.state.rate_headers = call.rate_headers  # on this call's answer, errors included (gateway.errors)

    async def _forward(self, call: AisCall) -> Response:
        request, match, grant, checked, window = call.request, call.match, call.consented, call.validated, call.window
        answer = await self.services.bank.account_resource(
            public_base=self.public_base,
            sub_path=match.sub_path,
            query=upstream_query(dates=checked.dates, window=window, page=checked.page),
            claims=context_claims(grant=grant, window=window),
            interaction_id=interaction_id(request),
        )
        response = self._respond(answer, resource=match.route.resource, grant_permissions=grant.permissions,
                                 account_ids=grant.account_ids)
        response.headers.update(call.rate_headers)
        # Account data must not be stored by intermediaries (RFC 9111 section 5.2.2.5).
        response.headers["cache-control"] = "no-store"
        if answer.status == 200:
            await self.recorder.record(
                consent_id=grant.consent_id,
                client_id=call.customer.client.client_id,
                endpoint=match.route.endpoint,
                customer_present=checked.customer_present,
                at=call.now,
            )
        return response

    @staticmethod
    def _respond(
        answer: UpstreamResponse, *, resource: str, grant_permissions: frozenset[str], account_ids: tuple[str, ...]
    ) -> Response:
        if answer.status in _PASSED_STATUSES:
            return Response(answer.body, status_code=answer.status, media_type=JSON_MEDIA_TYPE)
        if answer.status != 200:
            raise upstream_error(502, "The account service failed", detail=f"bank answered {answer.status}")
        if resource == "statement-file":
            # The statement file is opaque (PDF or JSON); permission to see it is the whole rule (ReadStatementsDetail).
            return Response(answer.body, status_code=200, media_type=answer.content_type or "application/octet-stream")
        try:
            body = json.loads(answer.body)
        except ValueError:
            raise upstream_error(502, "The account service answered an unexpected document") from None
        shaped = shape(body, resource=resource, permissions=grant_permissions, account_ids=account_ids)
        return Response(
            json.dumps(shaped, separators=(",", ":"), ensure_ascii=False).encode(), status_code=200,
            media_type=JSON_MEDIA_TYPE,
        )

    async def close(self) -> None:
        await self.recorder.close()


def pipeline_of(request: Request) -> AisPipeline:
    pipeline = getattr(request.app.state, STATE_KEY, None)
    if pipeline is None:
        # Fail closed: without a prepared pipeline nothing is served (never an unchecked pass-through).
        raise NotFound("No such endpoint")
    return pipeline  # type: ignore[no-any-return]


async def ais_endpoint(request: Request) -> Response:
    return await pipeline_of(request).handle(request)


async def not_found(request: Request) -> Response:
    raise NotFound("No such endpoint")


def routes(pipeline: AisPipeline) -> list[BaseRoute]:
    """One route per AIS path template, every method (the pipeline answers 405 itself, in OBIE form); answers
    signed where the rulebook marks the operation ``signed_response`` (none in the shipped rulebook)."""
    policies = pipeline.services.policies
    return [
        message_signing.sign_responses(
            Route(template, ais_endpoint, methods=ALL_METHODS, name=f"ais:{template}"),
            pipeline.services,
            operations=policies.operations_at(template),
        )
        for template in pipeline.table.templates()
    ]


def fallback_routes(*, base: str) -> list[BaseRoute]:
    """OBIE 404 (no body) for any other path under the AIS base (the accounts document's ``servers[0].url``);
    mount after every other route."""
    return [Route(base + "/{rest:path}", not_found, methods=ALL_METHODS, name="ais:not-found")]


