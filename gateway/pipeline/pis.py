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
gateway's ``x-jws-signature`` (PISP endpoint table: "Signed Response"; ``gateway.hosting.message_signing.sign_responses``).

Rate limits (docs/architecture.md section 3 step 5, ``policies/rate-limits.yaml``), counted right after the token so a
refused call creates, executes and reads nothing: customer-token calls spend the client's tier budget of the
route's rate class and the per-consent budget of the token's consent; client-token GETs spend the tier budget
only (they name a payment, not a consent). The PSD2 RTS Art. 36(5)(b) unattended-access rule is an AIS rule
(docs/obie-notes.md section 10); the rulebook's ``unattended.scopes`` keeps it off the ``payments`` scope. A refusal is 429
with ``Retry-After`` (R/W API "429 (Too Many Requests)"); a success carries ``RateLimit-*`` headers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from types import MappingProxyType
from typing import Any
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import api as consent_api
from consent import idempotency
from consent import service as consent_service
from consent import wire
from consent.errors import MalformedBody
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from gateway import errors
from gateway.backend.payments import BankRefused
from gateway.backend.payments import PaymentsBank
from gateway.backend.upstream import Upstream
from gateway.backend.upstream import upstream_error
from gateway.contract.policies.rate_limits import RateLimits
from gateway.contract.policies.routes import RoutePolicy
from gateway.pipeline import body_schema
from gateway.pipeline import message_signing
from gateway.pipeline import tokens
from gateway.pipeline.payments_store import Claim
from gateway.pipeline.payments_store import PaymentOrderStore
from gateway.pipeline.payments_store import StoredAnswer
from gateway.pipeline.ratelimit import RateLimiter
from gateway.pipeline.ratelimit import tier_of
from gateway.pipeline.ratelimit import tier_only
from gateway.pipeline.tokens import require_customer_token
from gateway.pipeline.validation import check_accept
from gateway.security.access import AccessContext
from gateway.services import Services
from gateway.store.counters import storage_for
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.payment_tables import PaymentOrderRecord

PISP_BASE: Final = "/open-banking/v3.1/pisp"
JSON_UTF8: Final = "application/json; charset=utf-8"


@dataclass(frozen=True, kw_only=True)
class OrderKind:
    """One payment-order collection and what it needs (docs/obie-notes.md section 2.2 endpoint table)."""

    collection: str
    consent_kind: ConsentKind
    id_field: str
    create_operation: str
    read_operation: str
    details_operation: str
    # Data members the 201/200 response schema declares (read from openapi/ at start-up; it forbids others).
    data_fields: frozenset[str] = frozenset()


KINDS: Final[tuple[OrderKind, ...]] = (
    OrderKind(collection="domestic-payments", consent_kind=ConsentKind.DOMESTIC_PAYMENT,
              id_field="DomesticPaymentId", create_operation="CreateDomesticPayments",
              read_operation="GetDomesticPaymentsDomesticPaymentId",
              details_operation="GetDomesticPaymentsDomesticPaymentIdPaymentDetails"),
    OrderKind(collection="domestic-scheduled-payments", consent_kind=ConsentKind.DOMESTIC_SCHEDULED_PAYMENT,
              id_field="DomesticScheduledPaymentId", create_operation="CreateDomesticScheduledPayments",
              read_operation="GetDomesticScheduledPaymentsDomesticScheduledPaymentId",
              details_operation="GetDomesticScheduledPaymentsDomesticScheduledPaymentIdPaymentDetails"),
    OrderKind(collection="domestic-standing-orders", consent_kind=ConsentKind.DOMESTIC_STANDING_ORDER,
              id_field="DomesticStandingOrderId", create_operation="CreateDomesticStandingOrders",
              read_operation="GetDomesticStandingOrdersDomesticStandingOrderId",
              details_operation="GetDomesticStandingOrdersDomesticStandingOrderIdPaymentDetails"),
)
FUNDS_OPERATION: Final = "GetDomesticPaymentConsentsConsentIdFundsConfirmation"
# OBWritePaymentDetailsResponse1 speaks the scheme's transfer statuses (ISO 20022 in OB names); scheduled payments
# and standing orders carry initiation statuses (v3.1.11), so /payment-details translates those. The bank's own
# word stays in StatusDetail.Status.
_SCHEME_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    "InitiationPending": "Pending",
    "InitiationCompleted": "Accepted",
    "InitiationFailed": "Rejected",
    "Cancelled": "Cancelled",
})


def scheme_statuses(data: Mapping[str, Any]) -> dict[str, Any]:
    """``/payment-details`` Data with every initiation status given as its scheme status."""
    out = dict(data)
    statuses = data.get("PaymentStatus")
    if isinstance(statuses, list):
        out["PaymentStatus"] = [
            {**entry, "Status": _SCHEME_STATUS.get(str(entry.get("Status")), entry.get("Status"))}
            if isinstance(entry, dict) else entry
            for entry in statuses
        ]
    return out


def _resolve(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    while isinstance(ref, str):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        schema, ref = node, node.get("$ref")
    return schema


def response_data_fields(document: Mapping[str, Any], *, path: str, method: str, status: str) -> frozenset[str]:
    """The ``Data`` members an operation's response schema declares (``additionalProperties: false`` there)."""
    operation = document["paths"][path][method]
    content = _resolve(document, operation["responses"][status])["content"]
    schema = _resolve(document, next(iter(content.values()))["schema"])
    data = _resolve(document, schema["properties"]["Data"])
    return frozenset(data.get("properties", {}))


def dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: bytes, *, status_code: int, headers: Mapping[str, str] | None = None) -> Response:
    # Payment data must not be stored by intermediaries (RFC 9111 section 5.2.2.5).
    return Response(body, status_code=status_code, media_type=JSON_UTF8,
                    headers={**(headers or {}), "cache-control": "no-store"})


# How long a retry waits for a concurrent first call with the same key to claim it (that call is past its token
# and signature checks, so a few milliseconds; generous for a loaded replica).
_IN_FLIGHT_WAIT: Final = 2.0


def check_idempotency_key(value: str | None) -> str:
    """R/W API "Request Headers": x-idempotency-key, Max40Text, pattern ``^(?!\\s)(.*)(\\S)$``."""
    if value is None or value == "":
        raise errors.HeaderMissing("x-idempotency-key is required: send a unique key (up to 40 characters) per new payment", path="x-idempotency-key")
    if not idempotency.well_formed(value):
        raise errors.HeaderInvalid("x-idempotency-key must be 1 to 40 characters without surrounding spaces",
                                   path="x-idempotency-key")
    return value


def check_json_content_type(request: Request) -> None:
    if not wire.is_json_content_type(request.headers.get("content-type")):
        raise errors.UnsupportedMediaType("send application/json")


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = wire.loads_json(raw)
    except MalformedBody as exc:
        raise errors.ResourceInvalidFormat(exc.message) from None
    if not isinstance(body, dict):
        raise errors.ResourceInvalidFormat("The body must be a JSON object")
    return body


@dataclass(frozen=True, kw_only=True)
class PaymentLimits:
    """The rate limits of the payment and funds routes: two limiters over one counter storage, so the tier
    budget of a rate class is one budget whichever of them counts it (in Redis: across replicas too)."""

    customer: RateLimiter
    client: RateLimiter
    # The customer-presence header the rulebook names (x-fapi-customer-ip-address, R/W API "Request Headers").
    presence_header: str
    # How long an x-idempotency-key stays a replay (the rulebook's lifetimes.idempotency_key).
    idempotency_window: timedelta

    @classmethod
    def create(
        cls, *, policy: RateLimits, redis_url: str, prefix: str, idempotency_window: timedelta
    ) -> PaymentLimits:
        storage = storage_for(redis_url, prefix=prefix)
        return cls(customer=RateLimiter(policy=policy, storage=storage),
                   client=RateLimiter(policy=tier_only(policy), storage=storage),
                   presence_header=policy.unattended.presence_header, idempotency_window=idempotency_window)

    @classmethod
    def from_services(cls, services: Services) -> PaymentLimits:
        settings = services.settings
        return cls.create(policy=services.policies.rate_limits, redis_url=settings.redis_url,
                          prefix=settings.redis_prefix, idempotency_window=services.policies.fapi.idempotency_window)

    async def customer_call(
        self, request: Request, *, access: AccessContext, route: RoutePolicy, counted: bool = True
    ) -> dict[str, str]:
        """Tier and per-consent budgets of a customer-token call; its ``RateLimit-*`` headers, or 429.
        ``counted=False`` (an idempotent replay) reads the budgets without spending them."""
        consent_id = access.token.consent_id
        if not consent_id:
            # tokens.require_customer_token already refuses such a token; never count it unkeyed.
            raise errors.ObError("A customer token without a consent reached the rate limit")  # fail closed: 500
        if counted:
            headers = await self.customer.check(
                client_id=access.client.client_id, tier=tier_of(access.client), route=route, consent_id=consent_id,
                account_id=None,
                # The real presence signal: the rulebook, not this module, decides which scopes it limits.
                customer_present=request.headers.get(self.presence_header) is not None,
            )
        else:
            headers = await self.customer.peek(client_id=access.client.client_id, tier=tier_of(access.client),
                                               route=route, consent_id=consent_id)
        request.state.rate_headers = headers  # on this call's answer, errors included (gateway.errors)
        return headers

    async def client_call(self, request: Request, *, client: Client, route: RoutePolicy) -> dict[str, str]:
        """The tier budget of a client-token call; its ``RateLimit-*`` headers, or 429."""
        if route.token != "client":
            raise ValueError(f"{route.operation_id} is not a client-token route")
        headers = await self.client.check(client_id=client.client_id, tier=tier_of(client), route=route,
                                          consent_id="", account_id=None, customer_present=False)
        request.state.rate_headers = headers
        return headers

    async def first_submission(self, *, client_id: str, key: str) -> bool:
        """Whether this is the first time (client, ``x-idempotency-key``) is seen within the idempotency window,
        atomically across concurrent calls and, in Redis, across replicas. Later calls with the key are
        replays, in flight or done, and are not counted against the submit budget."""
        return await self.customer.first_sighting(client_id=client_id, key=key, window=self.idempotency_window)

    async def forget_submission(self, *, client_id: str, key: str) -> None:
        """The first call with this key was refused before it claimed the key: its retry is a first call."""
        await self.customer.forget_sighting(client_id=client_id, key=key, window=self.idempotency_window)


def mismatch(message: str, path: str, *, detail: str | None = None) -> errors.ResourceConsentMismatch:
    return errors.ResourceConsentMismatch(message, path=path, detail=detail)


def not_found(what: str, *, detail: str) -> errors.ResourceNotFound:
    # R/W API "HTTP Status Codes": an unknown resource id is 400, not 404.
    return errors.ResourceNotFound(f"{what} not found", detail=detail)


def another_clients(what: str, *, detail: str) -> errors.ObError:
    # R/W API "403 (Forbidden)": the resource belongs to another TPP.
    return errors.ObError(f"{what} belongs to another client", status_code=403, detail=detail,
                          errors=[errors.ObErrorItem("UK.OBIE.Resource.NotFound", f"{what} belongs to another client")])


async def authorised_consent(
    *, services: Services, access: AccessContext, consent_id: str, endpoint: str, now: datetime
) -> tuple[Consent, consent_service.ConsentGrant]:
    """The token's consent, ``Authorised`` (else 400 InvalidConsentStatus, docs/obie-notes.md section 6 and 9), this client's and
    customer's, covering ``endpoint``; with the account the customer chose."""
    token = access.token
    if consent_id != token.consent_id:
        raise mismatch("The ConsentId is not the consent this token was issued for", "Data.ConsentId",
                       detail=f"{consent_id} with a token for {token.consent_id}")
    async with services.db.session() as session:
        consent = await consent_service.get_consent(session=session, consent_id=consent_id,
                                                    client_id=access.client.client_id)
        if consent.status != ConsentStatus.AUTHORISED:
            raise errors.InvalidConsentStatus(f"The consent is {consent.status}", detail=consent_id)
        assert token.psu_id is not None  # tokens.require_customer_token
        grant = await consent_service.check_access(
            session=session, consent_id=consent_id, client_id=access.client.client_id, psu_id=token.psu_id,
            now=now, endpoint=endpoint,
        )
    if len(grant.account_ids) != 1:
        # The customer chose exactly one debtor account at approval (consent.service.authorise): fail closed.
        raise errors.InvalidConsentStatus("The consent names no single debtor account", detail=consent_id)
    return consent, grant


class PaymentsApi:
    def __init__(
        self, *, services: Services, bank: PaymentsBank, store: PaymentOrderStore, kinds: tuple[OrderKind, ...],
        limits: PaymentLimits, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.bank = bank
        self.store = store
        self.limits = limits
        self.kinds = MappingProxyType({k.collection: k for k in kinds})
        self.clock = clock
        self.public_base = services.settings.issuer.rstrip("/")
        self._verify_signature = message_signing.signature_verifier(services)
        self._validate_body = body_schema.body_validator(services)
        policies = services.policies.by_operation_id
        self.policies: Mapping[str, RoutePolicy] = MappingProxyType(
            {op: policies[op] for k in kinds for op in (k.create_operation, k.read_operation, k.details_operation)}
            | {FUNDS_OPERATION: policies[FUNDS_OPERATION]}
        )

    @classmethod
    def build(cls, services: Services, *, upstream: Upstream | None = None) -> PaymentsApi:
        """Everything prepared once (docs/architecture.md section 3, hot-path rule)."""
        document = services.specs.apis["payments"].document
        kinds = tuple(
            OrderKind(**{**k.__dict__, "data_fields": response_data_fields(
                document, path=f"/{k.collection}", method="post", status="201")})
            for k in KINDS
        )
        bank = PaymentsBank(upstream=upstream or Upstream(base_url=services.settings.sandbox_url),
                            bank=services.bank)
        store = PaymentOrderStore(db=services.db, window=services.policies.fapi.idempotency_window)
        return cls(services=services, bank=bank, store=store, kinds=kinds,
                   limits=PaymentLimits.from_services(services))

    # ------------------------------------------------------------------ rendering

    def _order_document(self, kind: OrderKind, data: Mapping[str, Any]) -> dict[str, Any]:
        payment_id = data.get(kind.id_field)
        if not isinstance(payment_id, str) or not payment_id:
            raise upstream_error(502, "The payment service answered an unexpected document")
        return {
            "Data": {name: value for name, value in data.items() if name in kind.data_fields},
            "Links": {"Self": f"{self.public_base}{PISP_BASE}/{kind.collection}/{payment_id}"},
            "Meta": {},
        }

    # ------------------------------------------------------------------ POST a payment order

    async def create(self, request: Request) -> Response:
        kind = self.kinds[request.url.path.removeprefix(PISP_BASE + "/")]
        policy = self.policies[kind.create_operation]
        access = await require_customer_token(request, services=self.services, policy=policy)
        client_id = access.client.client_id
        first = False
        known: PaymentOrderRecord | None = None
        try:
            presented: str | None = (check_idempotency_key(request.headers.get("x-idempotency-key"))
                                     if policy.idempotent else None)
        except errors.ObError:
            presented = None  # refused below, in the order the error codes are checked
        if presented is not None:
            # R/W API "Idempotency": a retry with a known key answers the original outcome, so it spends no
            # submit budget and is never refused by it, whether the first call is done or still in flight.
            known = await self.store.find(client_id=client_id, key=presented, now=self.clock())
            if known is None:
                first = await self.limits.first_submission(client_id=client_id, key=presented)
                if not first:
                    # A concurrent call with this key is ahead of us: it becomes visible once it claims the key.
                    known = await self.store.appears(client_id=client_id, key=presented, now=self.clock,
                                                     within=_IN_FLIGHT_WAIT)
        try:
            return await self._create(request, kind=kind, policy=policy, access=access, known=known)
        except BaseException:
            if first and presented and await self.store.find(client_id=client_id, key=presented,
                                                             now=self.clock()) is None:
                # Refused before it claimed the key (429, bad signature, bad body): nothing was submitted under
                # it, so the TPP's corrected retry is a first submission and is counted as one.
                await self.limits.forget_submission(client_id=client_id, key=presented)
            raise

    async def _create(
        self, request: Request, *, kind: OrderKind, policy: RoutePolicy, access: AccessContext,
        known: PaymentOrderRecord | None,
    ) -> Response:
        """``known`` is the record already under the presented key: a replay, which spends no submit budget."""
        rate_headers = await self.limits.customer_call(request, access=access, route=policy,
                                                       counted=known is None)
        check_json_content_type(request)
        check_accept(request.headers)
        raw = await request.body()
        # Message Signing, where the rulebook marks the operation signed_request: verified on the raw bytes
        # before anything is parsed or stored.
        if policy.signed_request:
            caller = consent_api.TppCaller(client_id=access.client.client_id, principal=access.client)
            await self._verify_signature(request, caller, raw)
        # The rulebook's idempotent flag: without it every POST is a new order, stored under a key of our own
        # that no retry can present (the store keys every order).
        key = check_idempotency_key(request.headers.get("x-idempotency-key")) if policy.idempotent else (
            uuid.uuid4().hex)
        body = parse_json(raw)
        await self._validate_body(request, kind.create_operation, raw)
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
        try:
            _, data = await self.bank.execute(
                collection=kind.collection, consent_id=consent.consent_id, psu_id=grant.psu_id,
                account_id=grant.account_ids[0], idempotency_key=key, initiation=consent.data["Initiation"],
                interaction_id=errors.interaction_id(request),
            )
            document = self._order_document(kind, data)
        except BankRefused as exc:
            if exc.status == 409:
                # The bank holds another payment for this consent: the outcome is not ours to decide, keep the
                # record pending for an operator rather than free the key (fail closed).
                await self.store.release(claim, at=self.clock())
            else:
                await self.store.abandon(claim)  # refused outright: nothing executed
            raise upstream_error(502, "The payment service refused the order",
                                 detail=f"bank answered {exc.status}") from None
        except BaseException:
            # Unknown outcome (timeout, 5xx, cancelled): the TPP's retry with the same key asks the bank again.
            await self.store.release(claim, at=self.clock())
            raise
        # R/W API "Idempotency": a replay answers 201 too, with the resource as created.
        answer = StoredAnswer(status=201, body=dumps(document), payment_id=document["Data"][kind.id_field])
        return await self.store.complete(claim, answer=answer, consent_id=consent.consent_id,
                                         client_id=grant.client_id, at=self.clock())

    # ------------------------------------------------------------------ GET a payment order

    async def read(self, request: Request, *, kind: OrderKind) -> Response:
        return await self._read(request, kind=kind, details=False)

    async def details(self, request: Request, *, kind: OrderKind) -> Response:
        return await self._read(request, kind=kind, details=True)

    async def _read(self, request: Request, *, kind: OrderKind, details: bool) -> Response:
        payment_id = request.path_params["payment_id"]
        caller = await tokens.client_token(request, services=self.services, scope="payments")
        if not isinstance(caller.principal, Client):
            raise errors.ObError("No registered client for the rate limit")  # fail closed: 500
        rate_headers = await self.limits.client_call(
            request, client=caller.principal,
            route=self.policies[kind.details_operation if details else kind.read_operation],
        )
        check_accept(request.headers)
        record = await self.store.by_payment(payment_id=payment_id)
        if record is None or record.kind != kind.collection:
            raise not_found("Payment order", detail=payment_id)
        if record.client_id != caller.client_id:
            raise another_clients("Payment order", detail=f"{payment_id} asked by {caller.client_id}")
        data = await self.bank.read(collection=kind.collection, payment_id=payment_id, consent_id=record.consent_id,
                                    psu_id=record.psu_id, details=details,
                                    interaction_id=errors.interaction_id(request))
        if data is None:
            raise not_found("Payment order", detail=f"{payment_id}: unknown to the bank")
        if details:
            document = {"Data": scheme_statuses(data), "Links": {"Self": f"{self.public_base}{request.url.path}"},
                        "Meta": {}}
        else:
            document = self._order_document(kind, data)
        return json_response(dumps(document), status_code=200, headers=rate_headers)

    # ------------------------------------------------------------------ funds confirmation on a payment consent

    async def funds_confirmation(self, request: Request) -> Response:
        policy = self.policies[FUNDS_OPERATION]
        access = await require_customer_token(request, services=self.services, policy=policy)
        rate_headers = await self.limits.customer_call(request, access=access, route=policy)
        check_accept(request.headers)
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
        return json_response(dumps(document), status_code=200, headers=rate_headers)

    async def close(self) -> None:
        await self.bank.close()

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        """Every payment-order route, its answers signed as the rulebook says (module docstring). Methods outside the spec are 405
        (Starlette answers them before the handler)."""
        plain: list[tuple[Route, str]] = []
        for kind in self.kinds.values():
            base = f"{PISP_BASE}/{kind.collection}"
            plain += [
                (Route(base, self.create, methods=["POST"], name=f"pis:{kind.collection}"), kind.create_operation),
                (Route(base + "/{payment_id:str}", self._bound(kind, self.read), methods=["GET"],
                       name=f"pis:{kind.collection}-item"), kind.read_operation),
                (Route(base + "/{payment_id:str}/payment-details", self._bound(kind, self.details),
                       methods=["GET"], name=f"pis:{kind.collection}-details"), kind.details_operation),
            ]
        plain.append((Route(f"{PISP_BASE}/domestic-payment-consents/{{ConsentId:str}}/funds-confirmation",
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
