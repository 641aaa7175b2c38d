"""The bank's statements resources (OBIE Read/Write API v3.1.11, Account and Transaction API, Statements):
one statement per closed calendar month, its transactions and its file.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sandbox import ais_render as render
from sandbox.ais_access import AisContext
from sandbox.ais_responses import respond
from sandbox.ais_responses import response_headers
from sandbox.ais_responses import utc_today
from sandbox.ais_transactions import paged_transactions
from sandbox.ais_transactions import query_datetime
from sandbox.customers import TestAccount
from sandbox.errors import NotFound
from sandbox.models import LedgerEntry


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
    today = utc_today()
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
    return respond(request, {"Statement": found})


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
    return respond(request, {"Statement": [body]})


async def statement_transactions(request: Request, ctx: AisContext, session: AsyncSession,
                                 scope: list[TestAccount]) -> Response:
    period, _ = await _one_statement(request, ctx, session, scope[0])
    return await paged_transactions(request, scope, session, lower=period.start, upper=period.end, keep_query={})


async def statement_file(request: Request, ctx: AisContext, session: AsyncSession,
                         scope: list[TestAccount]) -> Response:
    """A small PDF of the statement (AISP: the file's content type is the ASPSP's choice)."""
    period, body = await _one_statement(request, ctx, session, scope[0])
    lines = [f"{scope[0].nickname}", f"Statement {period.reference}",
             f"{body['StartDateTime']} to {body['EndDateTime']}"]
    lines += [f"{a['Type']}: {a['CreditDebitIndicator']} {a['Amount']['Amount']} {a['Amount']['Currency']}"
              for a in body["StatementAmount"]]
    return Response(_pdf(lines), media_type="application/pdf", headers={
        **response_headers(request), "content-disposition": f'attachment; filename="{period.reference}.pdf"'})


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
