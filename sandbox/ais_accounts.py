"""The bank's per-account resources besides transactions and statements (OBIE Read/Write API v3.1.11, Account
and Transaction API): accounts and balances from the tables; beneficiaries, direct debits, standing orders,
scheduled payments, parties, products and offers derived by ``sandbox.ais_catalogue``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sandbox import ais_catalogue as catalogue
from sandbox import ais_render as render
from sandbox.ais_access import AisContext
from sandbox.ais_access import Handler
from sandbox.ais_responses import PUBLIC_PREFIX
from sandbox.ais_responses import public_base
from sandbox.ais_responses import respond
from sandbox.ais_responses import utc_today
from sandbox.customers import TestAccount
from sandbox.errors import Forbidden
from sandbox.errors import NotFound
from sandbox.models import AccountBalance
from sandbox.models import AccountHolder
from sandbox.models import Customer

# --- accounts, balances -------------------------------------------------------------------------------------


async def accounts(request: Request, ctx: AisContext, session: AsyncSession, scope: list[TestAccount]) -> Response:
    return respond(request, {"Account": [render.account(a) for a in scope]})


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
    return respond(request, {"Balance": [render.balance(by_id[r.account_id], r) for r in rows]})


# --- derived resources -------------------------------------------------------------------------------------


def listing(key: str, make: Callable[[TestAccount, date], list[dict[str, Any]]]) -> Handler:
    async def handler(request: Request, ctx: AisContext, session: AsyncSession,
                      scope: list[TestAccount]) -> Response:
        today = utc_today()
        return respond(request, {key: [item for a in scope for item in make(a, today)]})

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
    return respond(request, {"Party": parties[0]})


async def account_parties(request: Request, ctx: AisContext, session: AsyncSession,
                          scope: list[TestAccount]) -> Response:
    parties = catalogue.account_parties(scope[0], holders=await _holders(session, scope[0]),
                                        related=_account_uri(request, scope[0]))
    return respond(request, {"Party": parties})


async def psu_party(request: Request, ctx: AisContext, session: AsyncSession, scope: list[TestAccount]) -> Response:
    customer = await session.get(Customer, ctx.psu_id)
    if customer is None:
        raise Forbidden("no such customer")
    return respond(request, {"Party": catalogue.person_party(username=customer.username, name=customer.name)})


async def account_product(request: Request, ctx: AisContext, session: AsyncSession,
                          scope: list[TestAccount]) -> Response:
    return respond(request, {"Product": [catalogue.product(a) for a in scope]})
