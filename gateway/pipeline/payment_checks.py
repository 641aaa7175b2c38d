"""The checks and answers the payment-order, payment funds and CBPII endpoints share (OBIE R/W API v3.1.11
"Request Headers", "HTTP Status Codes", docs/obie-notes.md section 9): the idempotency key's format, a JSON body,
the token's consent ``Authorised`` with its one debtor account, and the no-store JSON answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consent import idempotency
from consent import service as consent_service
from consent import wire
from consent.errors import MalformedBody
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.wire import JSON_MEDIA_TYPE
from gateway import errors
from gateway.security.access import AccessContext
from gateway.services import Services


def json_response(body: bytes, *, status_code: int, headers: Mapping[str, str] | None = None) -> Response:
    # Payment data must not be stored by intermediaries (RFC 9111 section 5.2.2.5).
    return Response(body, status_code=status_code, media_type=JSON_MEDIA_TYPE,
                    headers={**(headers or {}), "cache-control": "no-store"})


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


async def record_funds_check(
    *, services: Services, request: Request, consent_id: str, client_id: str, endpoint: str, available: bool,
    amount: Mapping[str, Any], now: datetime,
) -> None:
    """A funds check in the consent's audit trail, with the amount asked and the answer given, before the answer
    leaves (docs/architecture.md section 3 step 8): the customer's dashboard lists every check and its answer."""
    async with services.db.session() as session:
        await consent_service.record_access(
            session=session, consent_id=consent_id, client_id=client_id, endpoint=endpoint,
            customer_present=request.headers.get("x-fapi-customer-ip-address") is not None, now=now,
            answer={"funds_available": available, "amount": str(amount["Amount"]),
                    "currency": str(amount["Currency"])},
        )
