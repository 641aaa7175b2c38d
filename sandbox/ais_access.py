"""Who and what the bank's account-information API answers (OBIE Read/Write API v3.1.11, AISP profile,
"Permissions"; docs/obie-notes.md section 4): the verified consent context and the accounts it opens.

Trust (fail closed): every call carries ``x-obgw-context`` (``sandbox.context``) with ``purpose`` ``ais``,
``psu_id``, ``consent_id``, ``account_ids`` (the consented accounts) and ``permissions``; optional
``transaction_from`` / ``transaction_to`` (the consent's transaction window, ISO 8601 or NumericDate).
The bank serves only accounts that are both in ``account_ids`` and held by ``psu_id``: a single-account path
naming any other account is 403, bulk paths leave them out. A route whose permission family is absent from
``permissions`` is 403 too (the gateway cuts fields by permission; the bank still refuses whole resources).
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sandbox import ais_catalogue as catalogue
from sandbox.context import CONTEXT_HEADER
from sandbox.customers import TestAccount
from sandbox.errors import Forbidden
from sandbox.errors import InvalidContext
from sandbox.models import Account
from sandbox.models import AccountHolder
from sandbox.services import services

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


def require(ctx: AisContext, family: str) -> None:
    if not ctx.permissions & PERMISSIONS[family]:
        raise Forbidden(f"the consent does not allow {family}")
    if family == "transactions" and not ctx.permissions & _DIRECTIONS:
        raise Forbidden("the consent allows neither credits nor debits")


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


async def scoped_accounts(request: Request, ctx: AisContext, session: AsyncSession) -> list[TestAccount]:
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
