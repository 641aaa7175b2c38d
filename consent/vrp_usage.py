"""What a customer's VRP consent has been used for: the payments made under it and, for each periodic limit, what
is used and left in the current period (OBIE VRP API v3.1.11 ``OBDomesticVRPControlParameters``,
docs/obie-notes-vrp-events.md sections 2 and 5), in the words of the dashboard.

The payments are the gateway's record of the VRPs it admitted (the host hands them over through
``consent.pages.portal.CustomerPortal.vrp_payments``); the allowance is computed by ``consent.vrp_controls`` from
the ones that count (not those the bank rejected), exactly as the gateway admits the next payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

from consent import vrp_controls
from consent.models import Consent
from consent.permissions import long_date
from consent.vrp_controls import Allowance
from consent.vrp_controls import Counted


@dataclass(frozen=True, kw_only=True)
class VrpPaymentLine:
    """One VRP the gateway admitted under a consent: when, how much, and whether it counts (not rejected)."""

    payment_id: str | None
    at: datetime
    amount: Decimal
    currency: str
    counted: bool


@dataclass(frozen=True, kw_only=True)
class VrpUsage:
    payments: tuple[VrpPaymentLine, ...]  # newest first
    allowances: tuple[Allowance, ...]


def usage(*, consent: Consent, payments: Sequence[VrpPaymentLine], at: datetime) -> VrpUsage:
    """The consent's payments and its allowance in each period containing ``at``."""
    controls = vrp_controls.parse(consent.data["ControlParameters"])
    anchor = vrp_controls.anchor_of(controls=controls, created=consent.created_at)
    counted = [Counted(at=p.at, amount=p.amount) for p in payments if p.counted]
    return VrpUsage(
        payments=tuple(sorted(payments, key=lambda p: p.at, reverse=True)),
        allowances=tuple(vrp_controls.allowances(controls=controls, anchor=anchor, at=at, counted=counted)),
    )


def _period_words(allowance: Allowance) -> str:
    period = allowance.limit.period_type.lower()
    return f"This calendar {period}" if allowance.limit.alignment == "Calendar" else f"This {period} of the consent"


def allowance_words(allowance: Allowance) -> str:
    """``This calendar month: GBP 30.00 used, GBP 70.00 left (until 1 January 2027)``."""
    currency = allowance.limit.currency
    left = max(allowance.remaining, Decimal(0))
    # ``end`` is exclusive: the period's last day is the day before.
    last_day = long_date(allowance.end - timedelta(microseconds=1))
    return (f"{_period_words(allowance)}: {currency} {allowance.used:.2f} used, {currency} {left:.2f} left "
            f"(to the end of {last_day})")


def payment_words(line: VrpPaymentLine) -> str:
    words = f"{long_date(line.at)}: {line.currency} {line.amount:.2f}"
    return words if line.counted else f"{words} (rejected by the bank, not counted)"
