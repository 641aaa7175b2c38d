"""The enforcement steps of docs/architecture.md section 3, declared once and shared by every resource API.

Each resource API declares its flow: the ordered steps a call goes through, then the action that answers it (as
node-oidc-provider declares each endpoint as a list of actions). AIS reads, payment orders and their funds
checks, CBPII confirmations (and VRP next) are flows over the steps below; what only one API needs (the AIS
consent and query checks, the payment-order replay lookup) is a step of its own module in the same list.

A step reads and fills one ``Call``. A refusal is an exception, the OBIE error ``gateway.errors`` renders, so no
later step runs for a refused call. A step that took something a refusal must give back (the first sighting of
an ``x-idempotency-key``) registers an ``on_refusal`` hook; hooks run, last first, when the call is refused.
A refusal by a step is counted in ``obgw_pipeline_rejections_total`` by its code (docs/production.md section 5);
a failure of the action (the bank call) is not a rejection: the upstream counters see it.

The shared steps, in the order every write flow lists them:

* ``customer_token`` / ``client_token``: the access token, its sender constraint and scope (401/403);
* ``customer_rate_limit`` / ``client_rate_limit``: the rulebook's budgets, counted right after the token so a
  refused call does nothing else (429; ``Call.counted`` false for a replay, which spends nothing);
* ``json_media_types`` / ``json_accept``: ``Content-Type`` (415) and ``Accept`` (406);
* ``message_signature``: ``x-jws-signature`` over the raw body, where the rulebook marks the operation
  ``signed_request`` (R/W API "Message Signing"), before anything is parsed;
* ``idempotency_key``: ``x-idempotency-key``'s format where the rulebook marks the operation ``idempotent``;
* ``json_body``: the body parsed and checked against the operation's schema (400).
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Generic
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from consent import api as consent_api
from gateway import errors
from gateway.contract.policies.routes import RoutePolicy
from gateway.observability import metrics
from gateway.pipeline import body_schema
from gateway.pipeline import message_signing
from gateway.pipeline import tokens
from gateway.pipeline.payment_checks import check_idempotency_key
from gateway.pipeline.payment_checks import check_json_content_type
from gateway.pipeline.payment_checks import parse_json
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.validation import check_accept
from gateway.security.access import AccessContext
from gateway.services import Services
from gateway.store.oauth_tables import Client

IDEMPOTENCY_HEADER = "x-idempotency-key"


@dataclass(kw_only=True, slots=True)
class Call:
    """One call on its way through a flow: what the steps so far established."""

    request: Request
    policy: RoutePolicy
    access: AccessContext | None = None  # customer_token
    client: Client | None = None  # client_token (customer_token sets it too)
    counted: bool = True  # False for an idempotent replay: budgets are read, not spent
    rate_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)  # json_body
    idempotency_key: str | None = None  # idempotency_key
    on_refusal: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def customer(self) -> AccessContext:
        if self.access is None:
            raise errors.ObError("A customer step ran before customer_token")  # a flow's order is wrong: 500
        return self.access

    @property
    def caller(self) -> consent_api.TppCaller:
        if self.client is None:
            raise errors.ObError("A client step ran before the token step")  # fail closed: 500
        return consent_api.TppCaller(client_id=self.client.client_id, principal=self.client)


C = TypeVar("C", bound=Call)
Step = Callable[[C], Awaitable[None]]
Action = Callable[[C], Awaitable[Response]]


@dataclass(frozen=True, kw_only=True)
class Flow(Generic[C]):
    """The declared steps of one operation (or family of operations), then its action."""

    steps: tuple[Step[C], ...]
    action: Action[C]

    async def run(self, call: C) -> Response:
        try:
            for step in self.steps:
                try:
                    await step(call)
                except Exception as refusal:
                    metrics.rejection(errors.refusal_code(refusal))
                    raise
            return await self.action(call)
        except BaseException:
            for hook in reversed(call.on_refusal):
                await hook()
            raise


# --------------------------------------------------------------------------- tokens


def customer_token(services: Services) -> Step[Call]:
    async def step(call: Call) -> None:
        call.access = await tokens.require_customer_token(call.request, services=services, policy=call.policy)
        call.client = call.access.client

    return step


def client_token(services: Services) -> Step[Call]:
    async def step(call: Call) -> None:
        call.client = await tokens.require_client_token(call.request, services=services, scopes=call.policy.scopes)

    return step


# --------------------------------------------------------------------------- rate limits


def customer_rate_limit(limits: PaymentLimits) -> Step[Call]:
    async def step(call: Call) -> None:
        call.rate_headers = await limits.customer_call(call.request, access=call.customer, route=call.policy,
                                                       counted=call.counted)

    return step


def client_rate_limit(limits: PaymentLimits) -> Step[Call]:
    async def step(call: Call) -> None:
        if call.client is None:
            raise errors.ObError("No registered client for the rate limit")  # fail closed: 500
        call.rate_headers = await limits.client_call(call.request, client=call.client, route=call.policy)

    return step


# --------------------------------------------------------------------------- media types and body


async def json_media_types(call: Call) -> None:
    check_json_content_type(call.request)
    check_accept(call.request.headers)


async def json_accept(call: Call) -> None:
    check_accept(call.request.headers)


def message_signature(services: Services) -> Step[Call]:
    verify = message_signing.signature_verifier(services)

    async def step(call: Call) -> None:
        call.raw = await call.request.body()
        if call.policy.signed_request:
            await verify(call.request, call.caller, call.raw)

    return step


async def idempotency_key(call: Call) -> None:
    if call.policy.idempotent:
        call.idempotency_key = check_idempotency_key(call.request.headers.get(IDEMPOTENCY_HEADER))


def json_body(services: Services) -> Step[Call]:
    validate = body_schema.body_validator(services)

    async def step(call: Call) -> None:
        call.raw = await call.request.body()
        body = parse_json(call.raw)
        await validate(call.request, call.policy.operation_id, call.raw)
        call.body = body

    return step
