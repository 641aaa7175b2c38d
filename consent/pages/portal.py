"""The seam between the customer pages and whoever hosts them (docs/architecture.md section 2: consent imports nothing of
the gateway). The gateway implements ``CustomerPortal`` with its signed session cookie, CSRF tokens, database,
bank client and token store; the pages only call these methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from consent.bank import AccountSummary
from consent.vrp_usage import VrpPaymentLine


class PortalUnavailable(RuntimeError):
    """The bank cannot answer (sign-in or account directory): the page says so and changes nothing."""


class SignInThrottled(RuntimeError):
    """Too many failed sign-ins for this username or address: ``str()`` is the customer-safe message, the same
    whether the username exists; the page answers 429 with ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, kw_only=True)
class Customer:
    """This browser's session as the pages see it. ``state`` is the host's own session object, kept opaque."""

    csrf: str
    psu_id: str | None = None
    name: str | None = None
    state: object = None

    @property
    def signed_in(self) -> bool:
        return self.psu_id is not None


class CustomerPortal(Protocol):
    def customer(self, request: Request) -> Customer:
        """The browser's valid session, or a fresh signed-out one (saved only by ``keep``)."""
        ...

    def keep(self, response: Response, request: Request, customer: Customer) -> None:
        """Store ``customer`` in the browser (the session cookie: HttpOnly, SameSite)."""
        ...

    async def sign_in(self, request: Request, customer: Customer, *, username: str,
                      password: str) -> Customer | None:
        """The signed-in session (with a new CSRF token), or ``None`` for wrong credentials.
        Raises ``PortalUnavailable`` when the bank cannot answer, ``SignInThrottled`` when too many attempts
        from this request's username or address failed."""
        ...

    def signs_in_at_bank(self) -> bool:
        """Whether customers sign in at the bank's identity provider (``start_bank_sign_in``) rather than with
        the password form (``sign_in``, then refused)."""
        ...

    async def start_bank_sign_in(self, request: Request, customer: Customer) -> Response:
        """The redirect to the bank's identity provider that signs ``customer`` in and brings them back to the
        dashboard (or the page saying the bank cannot be reached)."""
        ...

    def signed_out(self, customer: Customer) -> Customer:
        """A fresh signed-out session replacing ``customer``."""
        ...

    def csrf_ok(self, customer: Customer, submitted: object) -> bool:
        """Whether ``submitted`` is this session's CSRF token (compared in constant time)."""
        ...

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A database session (``expire_on_commit=False``) for ``consent.service``."""
        ...

    async def accounts(self, *, psu_id: str) -> list[AccountSummary]:
        """The customer's accounts at the bank; raises ``PortalUnavailable``."""
        ...

    async def client_names(self, session: AsyncSession, client_ids: Iterable[str]) -> dict[str, str]:
        """The TPPs' display names (from their registration or software statement) by client id."""
        ...

    async def vrp_payments(self, session: AsyncSession,
                           consent_ids: Sequence[str]) -> Mapping[str, Sequence[VrpPaymentLine]]:
        """The VRPs the host admitted under each of these consents (``consent.vrp_usage``), by consent id."""
        ...

    async def revoke_tokens(self, session: AsyncSession, consent_id: str) -> None:
        """Revoke every access and refresh token of the consent in ``session``, without committing: the
        consent service's commit stores the revocation and the status change together."""
        ...

    def headers(self) -> dict[str, str]:
        """Security headers of every customer page (CSP with frame-ancestors 'none', no-store, ...)."""
        ...

    def now(self) -> datetime:
        ...
