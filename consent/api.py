"""The TPP-facing consent endpoints of OBIE R/W API v3.1.11 (docs/obie-notes.md sections 2.1-2.3, 3).

``POST/GET/DELETE /aisp/account-access-consents``, ``POST/GET /pisp/domestic-payment-consents``,
``/pisp/domestic-scheduled-payment-consents``, ``/pisp/domestic-standing-order-consents``,
``POST/GET/DELETE /cbpii/funds-confirmation-consents`` and, from the VRP document (vrp-openapi.yaml;
docs/obie-notes-vrp-events.md section 4), ``POST/GET/DELETE /pisp/domestic-vrp-consents``, all under
``/open-banking/v3.1``.

The consent package imports nothing of the gateway (docs/architecture.md section 2): the gateway passes in how to
authenticate the caller (a client-credentials token with the API's scope), how to open a database session, the
public base URL for ``Links.Self``, and optionally a schema validator for request bodies. Refusals are
``consent.errors`` (rendered as ``OBErrorResponse1`` by the gateway) or, for 405/406/415 which carry no body in
v3.1.11, a bare status.

Payment-consent POSTs are idempotent on ``x-idempotency-key`` (R/W API "Idempotency") and signed: the gateway's
``verify_signature`` checks their ``x-jws-signature`` (detached JWS, "Message Signing") over the raw body bytes
before the body is parsed, so nothing is created for a request whose signature fails.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Final
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import service
from consent import wire
from consent.errors import ConsentNotFound
from consent.lifecycle import ConsentKind
from consent.models import Consent

K = ConsentKind

_ALL_METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True, kw_only=True)
class TppCaller:
    """Who is calling, as the gateway authenticated them."""

    client_id: str
    # The gateway's own record of the caller (its registered client), opaque to this package: handed back to
    # ``verify_signature`` so the signature check needs no second lookup.
    principal: Any = None


Authenticate = Callable[[Request, str, str], Awaitable[TppCaller]]
"""``(request, scope, operation_id) -> TppCaller``; raises (the gateway's 401/403) when the token does not do, and
counts the call against the operation's rate budget (the gateway's 429)."""
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
ValidateBody = Callable[[Request, str, bytes], Awaitable[None]]
"""``(request, operationId, raw body)``; raises a 400 when the body breaks the operation's schema."""
VerifySignature = Callable[[Request, TppCaller, bytes], Awaitable[None]]
"""``(request, caller, raw body)``; raises a 400 ``UK.OBIE.Signature.*`` unless ``x-jws-signature`` signs the body."""
Clock = Callable[[], datetime]


class RouteRules(Protocol):
    """What the rulebook (``policies/routes.yaml``) says of one operation: idempotency key, signed request."""

    @property
    def idempotent(self) -> bool: ...

    @property
    def signed_request(self) -> bool: ...


RulesOf = Callable[[str], RouteRules]
"""``operationId -> RouteRules``; the rulebook decides which consent POSTs need a key and a signature."""


@dataclass(frozen=True, kw_only=True)
class ConsentResource:
    """One consent collection: where it lives, what token scope it takes, what it allows."""

    kind: ConsentKind
    api: str  # the served OpenAPI document it belongs to: "accounts", "payments", "funds" or "vrp"
    collection: str
    scope: str
    create_operation: str
    read_operation: str
    delete_operation: str | None = None  # payment-order consents have no DELETE (PISP profile); VRP ones do

    def path(self, *, base_paths: Mapping[str, str]) -> str:
        """Under the base path of its API (the served document's ``servers[0].url``)."""
        return f"{base_paths[self.api]}/{self.collection}"



RESOURCES: Final[tuple[ConsentResource, ...]] = (
    ConsentResource(
        kind=K.ACCOUNT_ACCESS,
        api="accounts",
        collection="account-access-consents",
        scope="accounts",
        create_operation="CreateAccountAccessConsents",
        read_operation="GetAccountAccessConsentsConsentId",
        delete_operation="DeleteAccountAccessConsentsConsentId",
    ),
    ConsentResource(
        kind=K.DOMESTIC_PAYMENT,
        api="payments",
        collection="domestic-payment-consents",
        scope="payments",
        create_operation="CreateDomesticPaymentConsents",
        read_operation="GetDomesticPaymentConsentsConsentId",
    ),
    ConsentResource(
        kind=K.DOMESTIC_SCHEDULED_PAYMENT,
        api="payments",
        collection="domestic-scheduled-payment-consents",
        scope="payments",
        create_operation="CreateDomesticScheduledPaymentConsents",
        read_operation="GetDomesticScheduledPaymentConsentsConsentId",
    ),
    ConsentResource(
        kind=K.DOMESTIC_STANDING_ORDER,
        api="payments",
        collection="domestic-standing-order-consents",
        scope="payments",
        create_operation="CreateDomesticStandingOrderConsents",
        read_operation="GetDomesticStandingOrderConsentsConsentId",
    ),
    ConsentResource(
        kind=K.FUNDS_CONFIRMATION,
        api="funds",
        collection="funds-confirmation-consents",
        scope="fundsconfirmations",
        create_operation="CreateFundsConfirmationConsents",
        read_operation="GetFundsConfirmationConsentsConsentId",
        delete_operation="DeleteFundsConfirmationConsentsConsentId",
    ),
    ConsentResource(
        kind=K.DOMESTIC_VRP,
        api="vrp",
        collection="domestic-vrp-consents",
        scope="payments",
        create_operation="domesticVrpConsentsPost",
        read_operation="domesticVrpConsentsGet",
        delete_operation="domesticVrpConsentsDelete",
    ),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _json(document: dict[str, object], *, status_code: int) -> Response:
    return Response(wire.dumps(document), status_code=status_code, media_type=wire.JSON_MEDIA_TYPE)


def _bare(status_code: int, **headers: str) -> Response:
    # R/W API "HTTP Status Codes": 405, 406 and 415 carry no body in v3.1.11.
    return Response(status_code=status_code, headers=headers)


@dataclass(frozen=True, kw_only=True)
class _Endpoints:
    resource: ConsentResource
    path: str
    authenticate: Authenticate
    sessions: Sessions
    base_url: str
    validate_body: ValidateBody | None
    verify_signature: VerifySignature
    rules_of: RulesOf
    idempotency_window: timedelta
    clock: Clock

    def _self_url(self, consent_id: str) -> str:
        return f"{self.base_url}{self.path}/{consent_id}"

    async def _owned(self, session: AsyncSession, *, consent_id: str, caller: TppCaller) -> Consent:
        consent = await service.get_consent(
            session=session, consent_id=consent_id, client_id=caller.client_id
        )
        if consent.kind != self.resource.kind:
            # A consent of another kind does not exist at this collection (R/W API: unknown id -> 400).
            raise ConsentNotFound("Consent not found", detail=f"{consent_id} is {consent.kind}")
        return consent

    async def collection(self, request: Request) -> Response:
        if request.method != "POST":
            return _bare(405, Allow="POST")
        caller = await self.authenticate(request, self.resource.scope, self.resource.create_operation)
        if not wire.accepts_json(request.headers.get("accept")):
            return _bare(406)
        if not wire.is_json_content_type(request.headers.get("content-type")):
            return _bare(415)
        # The rulebook's idempotent and signed_request flags (R/W API "Idempotency", "Message Signing").
        rules = self.rules_of(self.resource.create_operation)
        key = wire.idempotency_key(request.headers) if rules.idempotent else None
        raw = await request.body()
        if rules.signed_request:
            # Message Signing: verified on the raw bytes, before any parsing (KB message-sign: never re-serialise).
            await self.verify_signature(request, caller, raw)
        body = wire.parse_body(raw)
        if self.validate_body is not None:
            await self.validate_body(request, self.resource.create_operation, raw)
        wire.check_request(body, kind=self.resource.kind)
        now = self.clock()
        async with self.sessions() as session:
            if self.resource.kind == K.ACCOUNT_ACCESS:
                consent = await service.create_account_access_consent(
                    session=session, client_id=caller.client_id, data=body["Data"], risk=body["Risk"], now=now
                )
            elif self.resource.kind == K.FUNDS_CONFIRMATION:
                consent = await service.create_funds_confirmation_consent(
                    session=session, client_id=caller.client_id, data=body["Data"], now=now
                )
            else:
                consent = await service.create_payment_consent(
                    session=session,
                    client_id=caller.client_id,
                    kind=self.resource.kind.value,
                    data=body["Data"],
                    risk=body["Risk"],
                    idempotency_key=key,
                    request_hash=wire.request_hash(body),
                    now=now,
                    idempotency_window=self.idempotency_window,
                )
        # A replay answers 201 with the consent's current state (R/W API "Idempotency").
        return _json(wire.render(consent, self_url=self._self_url(consent.consent_id)), status_code=201)

    async def item(self, request: Request) -> Response:
        allowed = "GET, DELETE" if self.resource.delete_operation else "GET"
        if request.method not in allowed.split(", "):
            return _bare(405, Allow=allowed)
        operation = self.resource.read_operation
        if request.method == "DELETE" and self.resource.delete_operation:  # allowed above only where it exists
            operation = self.resource.delete_operation
        caller = await self.authenticate(request, self.resource.scope, operation)
        if not wire.accepts_json(request.headers.get("accept")):
            return _bare(406)
        consent_id = request.path_params["ConsentId"]
        async with self.sessions() as session:
            consent = await self._owned(session, consent_id=consent_id, caller=caller)
            if request.method == "DELETE":
                # AAC / FCC / VRP: soft delete; a later GET answers 400 UK.OBIE.Resource.NotFound.
                await service.delete(
                    session=session, consent_id=consent_id, client_id=caller.client_id, now=self.clock()
                )
                return Response(status_code=204)
        return _json(wire.render(consent, self_url=self._self_url(consent_id)), status_code=200)


def routes(
    *,
    authenticate: Authenticate,
    sessions: Sessions,
    base_url: str,
    base_paths: Mapping[str, str],
    verify_signature: VerifySignature,
    rules_of: RulesOf,
    idempotency_window: timedelta,
    validate_body: ValidateBody | None = None,
    clock: Clock = _utcnow,
) -> list[BaseRoute]:
    """The consent routes. ``base_url`` is the public origin (the issuer) that ``Links.Self`` starts with,
    ``base_paths`` each API's base path by document name (``ConsentResource.api``);
    ``idempotency_window`` how long an ``x-idempotency-key`` replays (the rulebook's ``lifetimes.idempotency_key``)."""
    out: list[BaseRoute] = []
    for resource in RESOURCES:
        path = resource.path(base_paths=base_paths)
        endpoints = _Endpoints(
            resource=resource,
            path=path,
            authenticate=authenticate,
            sessions=sessions,
            base_url=base_url.rstrip("/"),
            validate_body=validate_body,
            verify_signature=verify_signature,
            rules_of=rules_of,
            idempotency_window=idempotency_window,
            clock=clock,
        )
        # Every method reaches the endpoint, which answers one the resource lacks with a bodyless 405 (v3.1.11).
        out.append(Route(path, endpoints.collection, methods=_ALL_METHODS, name=resource.collection))
        out.append(
            Route(
                path + "/{ConsentId}",
                endpoints.item,
                methods=_ALL_METHODS,
                name=f"{resource.collection}-item",
            )
        )
    return out
