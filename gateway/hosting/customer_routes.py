"""The gateway side of the customer pages (``consent.pages``): the bank sign-in session and CSRF token
(``gateway.oauth.psu_session``), the database, the bank's account directory, the TPPs' registered names and the
token store, offered to the consent package as its ``CustomerPortal``.

Mounted by ``gateway.app`` with ``routes(services)``: ``/consents`` (the dashboard, docs/architecture.md section 1
journey 6); where customers sign in at the bank's identity provider (docs/architecture.md section 10) the
dashboard's sign-in is ``gateway.oauth.bank_sign_in.start_for_dashboard``. Page headers are the customer pages' own (``page_headers``: CSP with ``frame-ancestors 'none'``,
no caching, no referrer).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from consent.bank import AccountSummary
from consent.pages import Customer
from consent.pages import PortalUnavailable
from consent.pages import dashboard_routes
from consent.pages.portal import SignInThrottled
from consent.vrp_usage import VrpPaymentLine
from gateway.backend.bank import BankUnavailable
from gateway.errors import AccessDenied
from gateway.oauth import bank_sign_in
from gateway.oauth import psu_session
from gateway.oauth.authorize_pages import page_headers
from gateway.oauth.psu_session import PsuSession
from gateway.oauth.tokens import revoke_consent_tokens
from gateway.security.sign_in_throttle import SignInThrottled as ThrottledAttempt
from gateway.security.sign_in_throttle import client_address
from gateway.services import Services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.payment_tables import VrpPaymentRecord


def customer_of(session: PsuSession) -> Customer:
    return Customer(csrf=session.csrf, psu_id=session.psu_id, name=session.name, state=session)


def _session_of(customer: Customer) -> PsuSession:
    if not isinstance(customer.state, PsuSession):
        # Only sessions this module made are ever stored (fail closed on anything else).
        raise TypeError("not a gateway customer session")
    return customer.state


async def client_names(session: AsyncSession, client_ids: Iterable[str]) -> dict[str, str]:
    """Registered ``client_name`` (from the registration or its software statement) by client id."""
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    rows = (await session.exec(select(Client).where(col(Client.client_id).in_(ids)))).all()
    return {row.client_id: row.client_name or row.client_id for row in rows}


async def vrp_payment_lines(session: AsyncSession,
                            consent_ids: Sequence[str]) -> dict[str, list[VrpPaymentLine]]:
    """The VRPs admitted under these consents (``gateway.pipeline.vrp_store``'s records), for the dashboard."""
    lines: dict[str, list[VrpPaymentLine]] = {}
    if not consent_ids:
        return lines
    rows = (await session.exec(
        select(VrpPaymentRecord).where(col(VrpPaymentRecord.consent_id).in_(list(consent_ids)))
    )).all()
    for row in rows:
        lines.setdefault(row.consent_id, []).append(VrpPaymentLine(
            payment_id=row.payment_id, at=row.created_at, amount=Decimal(row.amount), currency=row.currency,
            counted=row.counted))
    return lines


class GatewayPortal:
    """``consent.pages.CustomerPortal`` over this gateway's services."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def customer(self, request: Request) -> Customer:
        session = psu_session.load(request, services=self.services) or psu_session.new_session()
        return customer_of(session)

    def keep(self, response: Response, request: Request, customer: Customer) -> None:
        psu_session.save(response, _session_of(customer), request=request, services=self.services)

    async def sign_in(self, request: Request, customer: Customer, *, username: str,
                      password: str) -> Customer | None:
        throttle = self.services.sign_in_throttle
        address = client_address(request, settings=self.services.settings)
        try:
            await throttle.check(username=username, address=address)
        except ThrottledAttempt as throttled:
            raise SignInThrottled(str(throttled), retry_after=throttled.retry_after) from None
        try:
            psu = await self.services.bank.authenticate(username=username, password=password)
        except BankUnavailable as exc:
            raise PortalUnavailable(str(exc)) from exc
        if psu is None:
            await throttle.failed(username=username, address=address)
            return None
        signed_in = _session_of(customer).signed_in_as(psu_id=psu.psu_id, name=psu.name, now=int(time.time()))
        return customer_of(signed_in)

    def signs_in_at_bank(self) -> bool:
        return self.services.bank_idp is not None

    async def start_bank_sign_in(self, request: Request, customer: Customer) -> Response:
        return await bank_sign_in.start_for_dashboard(request, _session_of(customer), services=self.services)

    def signed_out(self, customer: Customer) -> Customer:
        return customer_of(psu_session.new_session())

    def csrf_ok(self, customer: Customer, submitted: object) -> bool:
        try:
            psu_session.check_csrf(_session_of(customer), submitted)
        except AccessDenied:
            return False
        return True

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.services.db.session()

    async def accounts(self, *, psu_id: str) -> list[AccountSummary]:
        try:
            return await self.services.bank.accounts(psu_id=psu_id)
        except BankUnavailable as exc:
            raise PortalUnavailable(str(exc)) from exc

    async def client_names(self, session: AsyncSession, client_ids: Iterable[str]) -> dict[str, str]:
        return await client_names(session, client_ids)

    async def vrp_payments(self, session: AsyncSession,
                           consent_ids: Sequence[str]) -> Mapping[str, Sequence[VrpPaymentLine]]:
        return await vrp_payment_lines(session, consent_ids)

    async def revoke_tokens(self, session: AsyncSession, consent_id: str) -> None:
        await revoke_consent_tokens(session, consent_id)

    def headers(self) -> dict[str, str]:
        return page_headers()

    def now(self) -> datetime:
        return utcnow()


def routes(services: Services) -> list[BaseRoute]:
    """The customer's consent dashboard (``/consents``) for ``gateway.app`` to mount."""
    return dashboard_routes(GatewayPortal(services))
