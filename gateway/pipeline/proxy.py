"""Step 7 of the enforcement pipeline (docs/architecture.md section 3): what the checked AIS call tells the bank.

The consent context (``purpose`` "ais", ``psu_id``, ``consent_id``, ``account_ids``, ``permissions``, and the clamped
``transaction_from`` / ``transaction_to`` when bounded) and the query, which is rebuilt from the validated values,
never copied from the request, so nothing unchecked reaches the bank. ``gateway.backend.bank.Bank.account_resource``
makes the call (the bank contract is written there).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Final

from consent.access import ConsentGrant
from gateway.pipeline.consent_check import Window

BOOKING_FROM: Final = "fromBookingDateTime"
BOOKING_TO: Final = "toBookingDateTime"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def query_date(value: datetime) -> str:
    """Query dates go upstream zone-less, in UTC (v3.1.11: the ASPSP ignores any zone)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def context_claims(*, grant: ConsentGrant, window: Window | None) -> dict[str, object]:
    claims: dict[str, object] = {
        "purpose": "ais",
        "psu_id": grant.psu_id,
        "consent_id": grant.consent_id,
        "account_ids": list(grant.account_ids),
        "permissions": sorted(grant.permissions),
    }
    start = window.start if window is not None else grant.transaction_from
    end = window.end if window is not None else grant.transaction_to
    if start is not None:
        claims["transaction_from"] = iso(start)
    if end is not None:
        claims["transaction_to"] = iso(end)
    return claims


def upstream_query(
    *, dates: Mapping[str, datetime], window: Window | None, page: int | None
) -> list[tuple[str, str]]:
    """The query for the bank: validated dates (booking dates replaced by the clamped window) and the page."""
    query = [(name, query_date(value)) for name, value in sorted(dates.items()) if name not in (BOOKING_FROM, BOOKING_TO)]
    if window is not None:
        if window.start is not None:
            query.append((BOOKING_FROM, query_date(window.start)))
        if window.end is not None:
            query.append((BOOKING_TO, query_date(window.end)))
    if page is not None:
        query.append(("page", str(page)))
    return query
