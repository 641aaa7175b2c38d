"""The bank's internal API, answered only to the gateway (contract in ``gateway.backend.bank``).

* ``POST /bank/v1/psu-authentications`` ``{"username", "password"}`` -> 200 ``{"psu_id", "name"}`` | 401
* ``GET /bank/v1/customers/{psu_id}/accounts`` -> 200 ``{"accounts": [...]}``

Every call must carry ``x-obgw-context`` (``sandbox.context``); its ``purpose`` claim must name the operation
and, for a customer's accounts, its ``psu_id`` claim must name that customer, so a token minted for one
question cannot be used to ask another.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import bodies
from sandbox.context import CONTEXT_HEADER
from sandbox.customers import masked_identification
from sandbox.errors import Forbidden
from sandbox.errors import InvalidContext
from sandbox.errors import InvalidCredentials
from sandbox.errors import InvalidRequest
from sandbox.errors import NotFound
from sandbox.models import Account
from sandbox.models import AccountHolder
from sandbox.models import Customer
from sandbox.passwords import verify_password_async
from sandbox.services import services

MAX_CREDENTIAL_LENGTH = 256


def _context(request: Request, *, purpose: str) -> dict[str, Any]:
    claims = services(request).context.verify(request.headers.get(CONTEXT_HEADER))
    if claims.get("purpose") != purpose:
        raise InvalidContext(f"context token purpose must be {purpose}")
    return claims


async def psu_authentications(request: Request) -> JSONResponse:
    _context(request, purpose="psu-authentication")
    body = await bodies.json_object(request, limit=services(request).settings.max_body_bytes)
    username, password = body.get("username"), body.get("password")
    for field, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_LENGTH:
            raise InvalidRequest(f"{field} must be a non-empty string", field=field, rule="required")
    async with services(request).db.session() as session:
        customer = (await session.exec(select(Customer).where(Customer.username == username))).first()
    # Unknown user and wrong password get the same answer after the same work (no enumeration).
    ok = await verify_password_async(
        password_hash=customer.password_hash if customer else None, password=str(password)
    )
    if not ok or customer is None:
        raise InvalidCredentials("username or password not recognised")
    return JSONResponse({"psu_id": customer.psu_id, "name": customer.name}, headers={"cache-control": "no-store"})


async def customer_accounts(request: Request) -> JSONResponse:
    psu_id = request.path_params["psu_id"]
    claims = _context(request, purpose="account-directory")
    if claims.get("psu_id") != psu_id:
        raise Forbidden("context token is for another customer")
    async with services(request).db.session() as session:
        if await session.get(Customer, psu_id) is None:
            raise NotFound("no such customer")
        rows = (
            await session.exec(
                select(Account)
                .join(AccountHolder, AccountHolder.account_id == Account.account_id)  # type: ignore[arg-type]
                .where(AccountHolder.psu_id == psu_id)
                .order_by(Account.account_type, Account.nickname)  # type: ignore[arg-type]
            )
        ).all()
    accounts = [
        {
            "account_id": a.account_id,
            "name": a.nickname,
            "account_type": a.account_type,
            "account_subtype": a.account_subtype,
            "currency": a.currency,
            "scheme_name": a.scheme_name,
            "masked_identification": masked_identification(
                scheme_name=a.scheme_name, identification=a.identification
            ),
        }
        for a in rows
    ]
    return JSONResponse({"accounts": accounts}, headers={"cache-control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/bank/v1/psu-authentications", psu_authentications, methods=["POST"]),
        Route("/bank/v1/customers/{psu_id}/accounts", customer_accounts, methods=["GET"]),
    ]
