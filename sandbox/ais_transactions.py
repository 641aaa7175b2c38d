"""The bank's transactions resource (OBIE Read/Write API v3.1.11, Account and Transaction API, Transactions):
booking-date filters, the consent's transaction window and pages of ``PAGE_SIZE`` records (R/W API profile,
"Pagination").
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sandbox import ais_render as render
from sandbox.ais_access import AisContext
from sandbox.ais_responses import respond
from sandbox.ais_responses import self_link
from sandbox.ais_responses import utc_today
from sandbox.customers import TestAccount
from sandbox.errors import InvalidRequest
from sandbox.models import LedgerEntry

# R/W API profile, "Pagination": a page should hold 25 to 1000 records.
PAGE_SIZE = 100

_QUERY_DATE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
    r"(?P<tz>Z|[+\- ]\d{2}:?\d{2})?$"
)


def query_datetime(value: str | None, *, name: str, end_of_day: bool) -> datetime | None:
    """A booking-date filter: date-only, no timezone, or with one (ignored: R/W API profile, "Date Formats").

    A date-only upper bound means the whole of that day.
    """
    if value is None or value == "":
        return None
    match = _QUERY_DATE.match(value.strip())
    if match is None:
        raise InvalidRequest(f"{name} is not an ISO 8601 date-time", field=name, rule="UK.OBIE.Field.InvalidDate")
    try:
        day = date.fromisoformat(match["date"])
        if match["time"] is None:
            at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            return at + timedelta(days=1, microseconds=-1) if end_of_day else at
        clock = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
        whole, _, fraction = clock.partition(".")
        at = datetime.fromisoformat(f"{match['date']}T{whole}").replace(tzinfo=UTC)
        return at + timedelta(microseconds=int((fraction + "000000")[:6])) if fraction else at
    except ValueError as exc:
        raise InvalidRequest(f"{name} is not a valid date", field=name, rule="UK.OBIE.Field.InvalidDate") from exc


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise InvalidRequest("page must be a positive integer", field="page", rule="page")
    return int(raw)


def _window(request: Request, ctx: AisContext) -> tuple[datetime | None, datetime | None]:
    lower = query_datetime(request.query_params.get("fromBookingDateTime"), name="fromBookingDateTime",
                           end_of_day=False)
    upper = query_datetime(request.query_params.get("toBookingDateTime"), name="toBookingDateTime",
                           end_of_day=True)
    # AISP profile, "Transaction To/From Date Time": nothing outside the consent's window; a filter reaching
    # beyond it is still valid and gets the part inside.
    if ctx.window_from is not None:
        lower = max(lower, ctx.window_from) if lower else ctx.window_from
    if ctx.window_to is not None:
        upper = min(upper, ctx.window_to) if upper else ctx.window_to
    return lower, upper


async def paged_transactions(request: Request, scope: list[TestAccount], session: AsyncSession, *,
                             lower: datetime | None, upper: datetime | None,
                             keep_query: dict[str, str]) -> Response:
    by_id = {a.account_id: a for a in scope}
    conditions: list[Any] = [col(LedgerEntry.account_id).in_(by_id)]
    if lower is not None:
        conditions.append(col(LedgerEntry.booking_at) >= lower)
    if upper is not None:
        conditions.append(col(LedgerEntry.booking_at) <= upper)
    page = _page(request)
    total = 0
    rows: list[LedgerEntry] = []
    first_at = last_at = None
    if by_id and (lower is None or upper is None or lower <= upper):
        total = (await session.exec(select(func.count()).select_from(LedgerEntry).where(*conditions))).one()
        rows = list(
            (
                await session.exec(
                    select(LedgerEntry)
                    .where(*conditions)
                    .order_by(col(LedgerEntry.booking_at).desc(), col(LedgerEntry.transaction_id))
                    .offset((page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE)
                )
            ).all()
        )
        first_at, last_at = (
            await session.exec(
                select(func.min(LedgerEntry.booking_at), func.max(LedgerEntry.booking_at)).where(
                    col(LedgerEntry.account_id).in_(by_id)
                )
            )
        ).one()
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        raise InvalidRequest(f"page {page} is past the last page ({pages})", field="page", rule="page")
    today = utc_today()
    links = {"Self": self_link(request, query={**keep_query, **({"page": str(page)} if page > 1 else {})})}
    if pages > 1:
        links["First"] = self_link(request, query=keep_query)
        links["Last"] = self_link(request, query={**keep_query, "page": str(pages)})
    if page < pages:
        links["Next"] = self_link(request, query={**keep_query, "page": str(page + 1)})
    if page > 1:
        links["Prev"] = self_link(request, query={**keep_query, **({"page": str(page - 1)} if page > 2 else {})})
    meta: dict[str, Any] = {"TotalPages": pages}
    if first_at is not None and last_at is not None:
        meta["FirstAvailableDateTime"] = render.iso(_as_datetime(first_at))
        meta["LastAvailableDateTime"] = render.iso(_as_datetime(last_at))
    data = {"Transaction": [render.transaction(by_id[r.account_id], r, today=today) for r in rows]}
    return respond(request, data, links=links, meta=meta)


def _as_datetime(value: Any) -> datetime:
    # SQLite returns aggregates as text: column types do not apply to min()/max().
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


async def transactions(request: Request, ctx: AisContext, session: AsyncSession,
                       scope: list[TestAccount]) -> Response:
    lower, upper = _window(request, ctx)
    keep = {k: request.query_params[k] for k in ("fromBookingDateTime", "toBookingDateTime")
            if request.query_params.get(k)}
    return await paged_transactions(request, scope, session, lower=lower, upper=upper, keep_query=keep)
