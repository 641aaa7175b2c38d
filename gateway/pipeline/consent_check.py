"""Step 4 of the enforcement pipeline (docs/architecture.md section 3): the consent behind the token.

``consent.service.check_access`` refuses, each with its OBIE status and code (rendered by ``gateway.errors``):
a consent that is unknown, deleted, not Authorised, expired, another client's or another customer's, whose
permissions do not cover the operation (AISP profile "Permissions"), or whose accounts do not include the path's
``AccountId`` (R/W API "403 (Forbidden)"). The route policy's own permission rule is checked as well, so the
rulebook and the consent domain must both agree before data flows.

The consented transaction window (AISP profile "TransactionFromDateTime/TransactionToDateTime": the ASPSP returns
transactions within the consented window only) clamps ``fromBookingDateTime``/``toBookingDateTime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from consent.access import ConsentGrant
from consent.access import check_access
from consent.errors import PermissionNotGranted
from gateway.pipeline.routing import RouteMatch
from gateway.security.access import AccessContext
from gateway.services import Services


async def check_consent(
    *, services: Services, access: AccessContext, match: RouteMatch, now: datetime
) -> ConsentGrant:
    """The grant for this call; raises ``consent.errors.ConsentError`` (403/400) on any refusal."""
    token = access.token
    assert token.consent_id is not None and token.psu_id is not None  # tokens.require_customer_token
    async with services.db.session() as session:
        grant = await check_access(
            session=session,
            consent_id=token.consent_id,
            client_id=access.client.client_id,
            psu_id=token.psu_id,
            now=now,
            endpoint=match.route.endpoint,
            account_id=match.account_id,
            loaded=access.consent,  # read with the token (gateway.pipeline.tokens): no second round trip
        )
    if not match.policy.permits(grant.permissions):
        raise PermissionNotGranted(
            "The consent does not permit this operation",
            detail=f"{grant.consent_id}: routes.yaml refuses {match.policy.operation_id}",
        )
    return grant


@dataclass(frozen=True, kw_only=True)
class Window:
    start: datetime | None
    end: datetime | None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def clamp_window(*, requested: Window, grant: ConsentGrant) -> Window:
    """The booking-date window to serve: the request's, narrowed to the consent's. Query dates carry no zone
    (v3.1.11 fromBookingDateTime: "the ASPSP must ignore the timezone component"), so they are read as UTC."""
    start = _utc(requested.start) if requested.start else None
    end = _utc(requested.end) if requested.end else None
    if grant.transaction_from is not None:
        consented = _utc(grant.transaction_from)
        start = consented if start is None or start < consented else start
    if grant.transaction_to is not None:
        consented = _utc(grant.transaction_to)
        end = consented if end is None or end > consented else end
    return Window(start=start, end=end)
