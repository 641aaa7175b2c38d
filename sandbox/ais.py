"""The bank's account-information API: every OBIE Read/Write API v3.1.11 AIS resource (docs/obie-notes.md section 2.1) under
``/bank/v1/aisp/...``, answered only to the gateway.

Trust (fail closed): every call carries ``x-obgw-context`` (``sandbox.context``) with ``purpose`` ``ais``,
``psu_id``, ``consent_id``, ``account_ids`` (the consented accounts) and ``permissions``; optional
``transaction_from`` / ``transaction_to`` (the consent's transaction window, ISO 8601 or NumericDate).
The bank serves only accounts that are both in ``account_ids`` and held by ``psu_id``: a single-account path
naming any other account is 403, bulk paths leave them out. A route whose permission family is absent from
``permissions`` is 403 too (the gateway cuts fields by permission; the bank still refuses whole resources).

Responses carry every field the Detail permissions can see, ``Links.Self`` in the gateway's public form
``{base}/open-banking/v3.1/aisp/...`` (``base`` from ``x-obgw-public-base``, default the gateway issuer) and
``Meta`` (R/W API profile, "Links", "Meta", "Pagination").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import ais_catalogue as catalogue
from sandbox import ais_render as render
from sandbox.context import CONTEXT_HEADER
from sandbox.customers import TestAccount
from sandbox.errors import Forbidden
from sandbox.errors import InvalidContext
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.models import Account
from sandbox.models import AccountBalance
from sandbox.models import AccountHolder
from sandbox.models import Customer
from sandbox.models import LedgerEntry
from sandbox.services import services

PREFIX = "/bank/v1/aisp"
PUBLIC_PREFIX = "/open-banking/v3.1/aisp"
PUBLIC_BASE_HEADER = "x-obgw-public-base"
INTERACTION_HEADER = "x-fapi-interaction-id"
# R/W API profile, "Pagination": a page should hold 25 to 1000 records.
PAGE_SIZE = 100

# Which permissions open which resource family (AISP profile, "Permissions"); any one of a set suffices.
_TRANSACTIONS = frozenset({"ReadTransactionsBasic", "ReadTransactionsDetail"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "accounts": frozenset({"ReadAccountsBasic", "ReadAccountsDetail"}),
    "balances": frozenset({"ReadBalances"}),
    "transactions": _TRANSACTIONS,
    "beneficiaries": frozenset({"ReadBeneficiariesBasic", "ReadBeneficiariesDetail"}),
    "direct-debits": frozenset({"ReadDirectDebits"}),
    "standing-orders": frozenset({"ReadStandingOrdersBasic", "ReadStandingOrdersDetail"}),
    "scheduled-payments": frozenset({"ReadScheduledPaymentsBasic", "ReadScheduledPaymentsDetail"}),
    "statements": frozenset({"ReadStatementsBasic", "ReadStatementsDetail"}),
    # AISP profile: the statement file needs ReadStatementsDetail.
    "statement-file": frozenset({"ReadStatementsDetail"}),
    "party": frozenset({"ReadParty"}),
    "party-psu": frozenset({"ReadPartyPSU"}),
    "products": frozenset({"ReadProducts"}),
    "offers": frozenset({"ReadOffers"}),
}
# Transactions also need a direction (ReadTransactionsCredits and/or ReadTransactionsDebits).
_DIRECTIONS = frozenset({"ReadTransactionsCredits", "ReadTransactionsDebits"})


@dataclass(frozen=True, kw_only=True)
class AisContext:
    psu_id: str
    consent_id: str
    account_ids: frozenset[str]
    permissions: frozenset[str]
    window_from: datetime | None
    window_to: datetime | None


def _claim_time(value: Any, *, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidContext(f"context claim {name} is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidContext(f"context claim {name} is not a time") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise InvalidContext(f"context claim {name} is not a time")


def _strings(value: Any, *, name: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidContext(f"context claim {name} must be a list of strings")
    return frozenset(value)


def ais_context(request: Request) -> AisContext:
    """The verified AIS context, or 401: every claim this API relies on must be present and well formed."""
    claims = services(request).context.verify(request.headers.get(CONTEXT_HEADER))
    if claims.get("purpose") != "ais":
        raise InvalidContext("context token purpose must be ais")
    psu_id, consent_id = claims.get("psu_id"), claims.get("consent_id")
    if not isinstance(psu_id, str) or not psu_id or not isinstance(consent_id, str) or not consent_id:
        raise InvalidContext("context token must name psu_id and consent_id")
    return AisContext(
        psu_id=psu_id,
        consent_id=consent_id,
        account_ids=_strings(claims.get("account_ids"), name="account_ids"),
        permissions=_strings(claims.get("permissions"), name="permissions"),
        window_from=_claim_time(claims.get("transaction_from"), name="transaction_from"),
        window_to=_claim_time(claims.get("transaction_to"), name="transaction_to"),
    )


def _require(ctx: AisContext, family: str) -> None:
    if not ctx.permissions & PERMISSIONS[family]:
        raise Forbidden(f"the consent does not allow {family}")
    if family == "transactions" and not ctx.permissions & _DIRECTIONS:
        raise Forbidden("the consent allows neither credits nor debits")


def public_base(request: Request) -> str:
    """Where TPPs reach us: the gateway's public base URL (header), else the configured gateway issuer."""
    raw = request.headers.get(PUBLIC_BASE_HEADER)
    if raw is None:
        return services(request).settings.gateway_issuer
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment or "@" in raw:
        raise InvalidRequest("x-obgw-public-base must be an absolute http(s) URL", field=PUBLIC_BASE_HEADER,
                             rule="url")
    return raw.rstrip("/")


def _self_link(request: Request, *, query: dict[str, str] | None = None) -> str:
    tail = request.url.path[len(PREFIX):]
    link = public_base(request) + PUBLIC_PREFIX + tail
    return link + ("?" + urlencode(query) if query else "")


def _respond(request: Request, data: dict[str, Any], *, links: dict[str, str] | None = None,
             meta: dict[str, Any] | None = None) -> JSONResponse:
    body = {"Data": data, "Links": links or {"Self": _self_link(request)}, "Meta": meta or {"TotalPages": 1}}
    return JSONResponse(body, headers=_headers(request))


def _headers(request: Request) -> dict[str, str]:
    # Every response carries x-fapi-interaction-id (echoed, or a fresh RFC 4122 UUID).
    return {
        INTERACTION_HEADER: request.headers.get(INTERACTION_HEADER) or str(uuid.uuid4()),
        "cache-control": "no-store",
    }


async def _visible(session: AsyncSession, ctx: AisContext) -> list[TestAccount]:
    """Accounts both consented and held by the customer, in a stable order."""
    if not ctx.account_ids:
        return []
    rows = (
        await session.exec(
            select(Account)
            .join(AccountHolder, col(AccountHolder.account_id) == col(Account.account_id))
            .where(AccountHolder.psu_id == ctx.psu_id, col(Account.account_id).in_(ctx.account_ids))
            .order_by(col(Account.account_type), col(Account.nickname), col(Account.account_id))
        )
    ).all()
    return [catalogue.spec_of(a) for a in rows]


async def _scope(request: Request, ctx: AisContext, session: AsyncSession) -> list[TestAccount]:
    """The path's one account (403 unless consented and held), or every visible account for a bulk path."""
    visible = await _visible(session, ctx)
    wanted = request.path_params.get("account_id")
    if wanted is None:
        return visible
    found = [a for a in visible if a.account_id == wanted]
    if not found:
        # Same answer for unknown, not consented and someone else's: no account enumeration.
        raise Forbidden("account not available under this consent")
    return found


Handler = Callable[[Request, AisContext, AsyncSession, list[TestAccount]], Awaitable[Response]]


def _route(path: str, family: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        ctx = ais_context(request)
        _require(ctx, family)
        async with services(request).db.session() as session:
            accounts = await _scope(request, ctx, session)
            return await handler(request, ctx, session, accounts)

    return Route(PREFIX + path, endpoint, methods=["GET"])


def _today() -> date:
    return datetime.now(UTC).date()


# --- accounts, balances -------------------------------------------------------------------------------------


async def accounts(request: Request, ctx: AisContext, session: AsyncSession, scope: list[TestAccount]) -> Response:
    return _respond(request, {"Account": [render.account(a) for a in scope]})


async def balances(request: Request, ctx: AisContext, session: AsyncSession, scope: list[TestAccount]) -> Response:
    if not scope:
        # OBReadBalance1 needs at least one balance: a consent with no usable account has nothing to show.
        raise Forbidden("no account available under this consent")
    by_id = {a.account_id: a for a in scope}
    rows = (
        await session.exec(
            select(AccountBalance)
            .where(col(AccountBalance.account_id).in_(by_id))
            .order_by(col(AccountBalance.account_id), col(AccountBalance.balance_type))
        )
    ).all()
    order = {a.account_id: i for i, a in enumerate(scope)}
    rows = sorted(rows, key=lambda r: (order[r.account_id], r.balance_type))
    if not rows:
        raise NotFound("no balances recorded")
    return _respond(request, {"Balance": [render.balance(by_id[r.account_id], r) for r in rows]})


# --- transactions ------------------------------------------------------------------------------------------

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


async def _paged_transactions(request: Request, scope: list[TestAccount], session: AsyncSession, *,
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
    today = _today()
    links = {"Self": _self_link(request, query={**keep_query, **({"page": str(page)} if page > 1 else {})})}
    if pages > 1:
        links["First"] = _self_link(request, query=keep_query)
        links["Last"] = _self_link(request, query={**keep_query, "page": str(pages)})
    if page < pages:
        links["Next"] = _self_link(request, query={**keep_query, "page": str(page + 1)})
    if page > 1:
        links["Prev"] = _self_link(request, query={**keep_query, **({"page": str(page - 1)} if page > 2 else {})})
    meta: dict[str, Any] = {"TotalPages": pages}
    if first_at is not None and last_at is not None:
        meta["FirstAvailableDateTime"] = render.iso(_as_datetime(first_at))
        meta["LastAvailableDateTime"] = render.iso(_as_datetime(last_at))
    data = {"Transaction": [render.transaction(by_id[r.account_id], r, today=today) for r in rows]}
    return _respond(request, data, links=links, meta=meta)


def _as_datetime(value: Any) -> datetime:
    # SQLite returns aggregates as text: column types do not apply to min()/max().
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


async def transactions(request: Request, ctx: AisContext, session: AsyncSession,
                       scope: list[TestAccount]) -> Response:
    lower, upper = _window(request, ctx)
    keep = {k: request.query_params[k] for k in ("fromBookingDateTime", "toBookingDateTime")
            if request.query_params.get(k)}
    return await _paged_transactions(request, scope, session, lower=lower, upper=upper, keep_query=keep)


# --- statements --------------------------------------------------------------------------------------------


async def _statements_of(session: AsyncSession, spec: TestAccount, ctx: AisContext
                         ) -> list[tuple[render.StatementPeriod, dict[str, Any]]]:
    """One statement per closed calendar month of the account's history, oldest first.

    AISP profile, "Transaction To/From Date Time": only statements completely inside the consent's window.
    """
    rows = (
        await session.exec(
            select(LedgerEntry.booking_at, LedgerEntry.credit_debit, LedgerEntry.amount, LedgerEntry.balance_after)
            .where(LedgerEntry.account_id == spec.account_id, LedgerEntry.status == "Booked")
            .order_by(col(LedgerEntry.booking_at))
        )
    ).all()
    if not rows:
        return []
    today = _today()
    first = rows[0][0]
    year, month = first.year, first.month
    # The first month is partial history (the window opens mid-month), so statements start the month after.
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    out = []
    running = Decimal(str(rows[0][3])) - _signed(rows[0][1], rows[0][2])
    i = 0
    while (year, month) < (today.year, today.month):
        period = render.statement_period(spec, year=year, month=month)
        while i < len(rows) and rows[i][0] < period.start:
            running = Decimal(str(rows[i][3]))
            i += 1
        opening, credits, debits = running, Decimal(0), Decimal(0)
        while i < len(rows) and rows[i][0] <= period.end:
            amount = Decimal(rows[i][2])
            if rows[i][1] == "Credit":
                credits += amount
            else:
                debits += amount
            running = Decimal(str(rows[i][3]))
            i += 1
        inside = (ctx.window_from is None or period.start >= ctx.window_from) and (
            ctx.window_to is None or period.end <= ctx.window_to
        )
        if inside:
            out.append((period, render.statement(spec, period, opening=opening, closing=running,
                                                 credits=credits, debits=debits)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _signed(credit_debit: str, amount: str) -> Decimal:
    return Decimal(amount) if credit_debit == "Credit" else -Decimal(amount)


def _statement_filter(request: Request) -> tuple[datetime | None, datetime | None]:
    lower = query_datetime(request.query_params.get("fromStatementDateTime"), name="fromStatementDateTime",
                           end_of_day=False)
    upper = query_datetime(request.query_params.get("toStatementDateTime"), name="toStatementDateTime",
                           end_of_day=True)
    return lower, upper


async def statements(request: Request, ctx: AisContext, session: AsyncSession,
                     scope: list[TestAccount]) -> Response:
    lower, upper = _statement_filter(request)
    found = []
    for spec in scope:
        for period, body in await _statements_of(session, spec, ctx):
            if (lower is None or period.start >= lower) and (upper is None or period.end <= upper):
                found.append(body)
    return _respond(request, {"Statement": found})


async def _one_statement(request: Request, ctx: AisContext, session: AsyncSession, spec: TestAccount
                         ) -> tuple[render.StatementPeriod, dict[str, Any]]:
    wanted = request.path_params["statement_id"]
    for period, body in await _statements_of(session, spec, ctx):
        if period.statement_id == wanted:
            return period, body
    raise NotFound("no such statement")


async def statement(request: Request, ctx: AisContext, session: AsyncSession,
                    scope: list[TestAccount]) -> Response:
    _, body = await _one_statement(request, ctx, session, scope[0])
    return _respond(request, {"Statement": [body]})


async def statement_transactions(request: Request, ctx: AisContext, session: AsyncSession,
                                 scope: list[TestAccount]) -> Response:
    period, _ = await _one_statement(request, ctx, session, scope[0])
    return await _paged_transactions(request, scope, session, lower=period.start, upper=period.end, keep_query={})


async def statement_file(request: Request, ctx: AisContext, session: AsyncSession,
                         scope: list[TestAccount]) -> Response:
    """A small PDF of the statement (AISP: the file's content type is the ASPSP's choice)."""
    period, body = await _one_statement(request, ctx, session, scope[0])
    lines = [f"{scope[0].nickname}", f"Statement {period.reference}",
             f"{body['StartDateTime']} to {body['EndDateTime']}"]
    lines += [f"{a['Type']}: {a['CreditDebitIndicator']} {a['Amount']['Amount']} {a['Amount']['Currency']}"
              for a in body["StatementAmount"]]
    return Response(_pdf(lines), media_type="application/pdf", headers={
        **_headers(request), "content-disposition": f'attachment; filename="{period.reference}.pdf"'})


def _pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF 1.4 with the lines in Helvetica (enough for a viewer to open)."""
    def esc(s: str) -> str:
        return s.encode("latin-1", "replace").decode("latin-1").replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(f"({esc(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# --- derived resources -------------------------------------------------------------------------------------


def _listing(key: str, make: Callable[[TestAccount, date], list[dict[str, Any]]]) -> Handler:
    async def handler(request: Request, ctx: AisContext, session: AsyncSession,
                      scope: list[TestAccount]) -> Response:
        today = _today()
        return _respond(request, {key: [item for a in scope for item in make(a, today)]})

    return handler


async def _holders(session: AsyncSession, spec: TestAccount) -> list[tuple[str, str]]:
    rows = (
        await session.exec(
            select(Customer.username, Customer.name)
            .join(AccountHolder, col(AccountHolder.psu_id) == col(Customer.psu_id))
            .where(AccountHolder.account_id == spec.account_id)
            .order_by(col(AccountHolder.position))
        )
    ).all()
    return [(u, n) for u, n in rows]


def _account_uri(request: Request, spec: TestAccount) -> str:
    return f"{public_base(request)}{PUBLIC_PREFIX}/accounts/{spec.account_id}"


async def account_party(request: Request, ctx: AisContext, session: AsyncSession,
                        scope: list[TestAccount]) -> Response:
    parties = catalogue.account_parties(scope[0], holders=await _holders(session, scope[0]),
                                        related=_account_uri(request, scope[0]))
    return _respond(request, {"Party": parties[0]})


async def account_parties(request: Request, ctx: AisContext, session: AsyncSession,
                          scope: list[TestAccount]) -> Response:
    parties = catalogue.account_parties(scope[0], holders=await _holders(session, scope[0]),
                                        related=_account_uri(request, scope[0]))
    return _respond(request, {"Party": parties})


async def psu_party(request: Request, ctx: AisContext, session: AsyncSession, scope: list[TestAccount]) -> Response:
    customer = await session.get(Customer, ctx.psu_id)
    if customer is None:
        raise Forbidden("no such customer")
    return _respond(request, {"Party": catalogue.person_party(username=customer.username, name=customer.name)})


async def account_product(request: Request, ctx: AisContext, session: AsyncSession,
                          scope: list[TestAccount]) -> Response:
    return _respond(request, {"Product": [catalogue.product(a) for a in scope]})


def routes() -> list[BaseRoute]:
    one = "/accounts/{account_id}"
    stmt = one + "/statements/{statement_id}"
    return [
        _route("/accounts", "accounts", accounts),
        _route(one, "accounts", accounts),
        _route(one + "/balances", "balances", balances),
        _route("/balances", "balances", balances),
        _route(one + "/transactions", "transactions", transactions),
        _route("/transactions", "transactions", transactions),
        _route(one + "/beneficiaries", "beneficiaries", _listing("Beneficiary", lambda a, t: catalogue.beneficiaries(a))),
        _route("/beneficiaries", "beneficiaries", _listing("Beneficiary", lambda a, t: catalogue.beneficiaries(a))),
        _route(one + "/direct-debits", "direct-debits",
               _listing("DirectDebit", lambda a, t: catalogue.direct_debits(a, today=t))),
        _route("/direct-debits", "direct-debits",
               _listing("DirectDebit", lambda a, t: catalogue.direct_debits(a, today=t))),
        _route(one + "/standing-orders", "standing-orders",
               _listing("StandingOrder", lambda a, t: catalogue.standing_orders(a, today=t))),
        _route("/standing-orders", "standing-orders",
               _listing("StandingOrder", lambda a, t: catalogue.standing_orders(a, today=t))),
        _route(one + "/scheduled-payments", "scheduled-payments",
               _listing("ScheduledPayment", lambda a, t: catalogue.scheduled_payments(a, today=t))),
        _route("/scheduled-payments", "scheduled-payments",
               _listing("ScheduledPayment", lambda a, t: catalogue.scheduled_payments(a, today=t))),
        _route(one + "/statements", "statements", statements),
        _route("/statements", "statements", statements),
        _route(stmt, "statements", statement),
        # docs/obie-notes.md section 4: statement transactions are gated exactly like account transactions.
        _route(stmt + "/transactions", "transactions", statement_transactions),
        _route(stmt + "/file", "statement-file", statement_file),
        _route(one + "/party", "party", account_party),
        _route(one + "/parties", "party", account_parties),
        _route("/party", "party-psu", psu_party),
        _route(one + "/product", "products", account_product),
        _route("/products", "products", account_product),
        _route(one + "/offers", "offers", _listing("Offer", lambda a, t: catalogue.offers(a, today=t))),
        _route("/offers", "offers", _listing("Offer", lambda a, t: catalogue.offers(a, today=t))),
    ]
