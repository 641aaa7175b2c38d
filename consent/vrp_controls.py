"""The control parameters of a variable-recurring-payment consent, and the check of one payment against them.

OBIE VRP API v3.1.11 (openapi/obie/vrp/v3.1.11/vrp-openapi.yaml, ``OBDomesticVRPControlParameters``): a payment
is refused with 400 ``UK.OBIE.Rules.FailsControlParameters`` (the spec's ``OBError1`` code) when it falls outside
``ValidFromDateTime``/``ValidToDateTime``, exceeds ``MaximumIndividualAmount``, is not in the consent's currency,
has a ``PSUInteractionType`` the consent does not allow, or would take any ``PeriodicLimits`` entry's accepted
total over its ``Amount``. A payment exactly at a limit is allowed.

Periods ("Specifies whether the period starts on the date of consent creation or lines up with a calendar"):
every period is a range of whole days ``[start, end)`` in the bank's local time, ``Europe/London`` (a UK
ASPSP's business day; the issue of where a day ends is the bank's, and a UK bank's is London's).

* ``Calendar``: Day the day; Week Monday to Sunday; Fortnight the 1st to the 14th and the 15th to the month's
  end; Month the calendar month; Half-year January to June and July to December; Year the calendar year.
* ``Consent``: periods of the same length counted from the day of the anchor (``ValidFromDateTime`` when the
  consent has one, else its creation): a Day is a day; a Week 7 and a Fortnight 14 days from it; a Month, a
  Half-year and a Year 1, 6 and 12 months from it, the day of month clamped to the month's last day (an anchor
  on 31 January gives periods starting 28/29 February, 31 March, 30 April...).

Which payments count is the caller's: every payment the bank accepted or may still accept (not one it
rejected), each counted once, at the time the gateway accepted it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any
from typing import Final
from zoneinfo import ZoneInfo

from consent.errors import ConsentError

BANK_TIME: Final = ZoneInfo("Europe/London")
PERIOD_TYPES: Final = ("Day", "Week", "Fortnight", "Month", "Half-year", "Year")
ALIGNMENTS: Final = ("Consent", "Calendar")
_MONTHS: Final = {"Month": 1, "Half-year": 6, "Year": 12}
_DAYS: Final = {"Day": 1, "Week": 7, "Fortnight": 14}


class FailsControlParameters(ConsentError):
    """The payment falls outside the consent's control parameters: nothing is executed or counted."""

    status_code = 400
    ob_code = "UK.OBIE.Rules.FailsControlParameters"


@dataclass(frozen=True, kw_only=True)
class PeriodicLimit:
    period_type: str
    alignment: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class ControlParameters:
    valid_from: datetime | None
    valid_to: datetime | None
    maximum_individual: Decimal
    currency: str
    periodic_limits: tuple[PeriodicLimit, ...]
    vrp_types: tuple[str, ...]
    interaction_types: tuple[str, ...]  # empty: any


@dataclass(frozen=True, kw_only=True)
class Allowance:
    """One periodic limit in the period containing a payment: what is used (with it) and what is left."""

    limit: PeriodicLimit
    start: datetime
    end: datetime
    used: Decimal
    remaining: Decimal


@dataclass(frozen=True, kw_only=True)
class Counted:
    """A payment that counts against the limits: when the gateway accepted it, and its amount."""

    at: datetime
    amount: Decimal


def amount_of(value: Any, *, path: str) -> Decimal:
    """An ``OBActiveCurrencyAndAmount_SimpleType`` as a Decimal (the schema has checked its pattern)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise FailsControlParameters("Not an amount", path=path) from None
    if not amount.is_finite():
        raise FailsControlParameters("Not an amount", path=path)
    return amount


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("control-parameter dates carry a zone offset")
    return parsed.astimezone(UTC)


def parse(document: Mapping[str, Any]) -> ControlParameters:
    """``Data.ControlParameters`` of a stored (already validated) VRP consent."""
    maximum = document["MaximumIndividualAmount"]
    return ControlParameters(
        valid_from=_aware(document.get("ValidFromDateTime")),
        valid_to=_aware(document.get("ValidToDateTime")),
        maximum_individual=amount_of(maximum["Amount"], path="MaximumIndividualAmount.Amount"),
        currency=str(maximum["Currency"]),
        periodic_limits=tuple(
            PeriodicLimit(period_type=str(entry["PeriodType"]), alignment=str(entry["PeriodAlignment"]),
                          amount=amount_of(entry["Amount"], path="PeriodicLimits.Amount"),
                          currency=str(entry["Currency"]))
            for entry in document["PeriodicLimits"]
        ),
        vrp_types=tuple(str(t) for t in document.get("VRPType", ())),
        interaction_types=tuple(str(t) for t in document.get("PSUInteractionTypes", ())),
    )


# --------------------------------------------------------------------------- periods


def _add_months(anchor: date, months: int) -> date:
    year, month = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    month += 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def _calendar_days(period_type: str, day: date) -> tuple[date, date]:
    if period_type == "Day":
        return day, day + timedelta(days=1)
    if period_type == "Week":
        start = day - timedelta(days=day.weekday())  # Monday
        return start, start + timedelta(days=7)
    first = day.replace(day=1)
    next_month = _add_months(first, 1)
    if period_type == "Fortnight":
        middle = day.replace(day=15)
        return (first, middle) if day.day < 15 else (middle, next_month)
    if period_type == "Month":
        return first, next_month
    if period_type == "Half-year":
        start = date(day.year, 1 if day.month <= 6 else 7, 1)
        return start, _add_months(start, 6)
    if period_type == "Year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    raise ValueError(f"unknown PeriodType {period_type!r}")


def _consent_days(period_type: str, day: date, anchor: date) -> tuple[date, date]:
    if day < anchor:
        raise ValueError("a payment before the period anchor")
    if period_type in _DAYS:
        length = _DAYS[period_type]
        start = anchor + timedelta(days=(day - anchor).days // length * length)
        return start, start + timedelta(days=length)
    if period_type in _MONTHS:
        step = _MONTHS[period_type]
        k = ((day.year - anchor.year) * 12 + day.month - anchor.month) // step
        while k > 0 and _add_months(anchor, k * step) > day:
            k -= 1
        while _add_months(anchor, (k + 1) * step) <= day:
            k += 1
        return _add_months(anchor, k * step), _add_months(anchor, (k + 1) * step)
    raise ValueError(f"unknown PeriodType {period_type!r}")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BANK_TIME).astimezone(UTC)


def period_of(*, limit: PeriodicLimit, anchor: datetime, at: datetime) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` (UTC) of ``limit`` that contains the instant ``at``."""
    day = at.astimezone(BANK_TIME).date()
    if limit.alignment == "Calendar":
        start, end = _calendar_days(limit.period_type, day)
    elif limit.alignment == "Consent":
        start, end = _consent_days(limit.period_type, day, anchor.astimezone(BANK_TIME).date())
    else:
        raise ValueError(f"unknown PeriodAlignment {limit.alignment!r}")
    return _midnight(start), _midnight(end)


def anchor_of(*, controls: ControlParameters, created: datetime) -> datetime:
    """Where consent-aligned periods start: ``ValidFromDateTime``, else the consent's creation."""
    return controls.valid_from or created


# --------------------------------------------------------------------------- the check


def allowances(
    *, controls: ControlParameters, anchor: datetime, at: datetime, counted: Iterable[Counted],
    amount: Decimal = Decimal(0),
) -> list[Allowance]:
    """Each periodic limit in its period containing ``at``: used (``amount`` included) and remaining."""
    history: Sequence[Counted] = tuple(counted)
    out = []
    for limit in controls.periodic_limits:
        start, end = period_of(limit=limit, anchor=anchor, at=at)
        used = sum((c.amount for c in history if start <= c.at < end), Decimal(0)) + amount
        out.append(Allowance(limit=limit, start=start, end=end, used=used, remaining=limit.amount - used))
    return out


def check_payment(
    *, controls: ControlParameters, anchor: datetime, at: datetime, amount: Decimal, currency: str,
    interaction_type: str | None, counted: Iterable[Counted],
) -> list[Allowance]:
    """Refuse (``FailsControlParameters``) a payment of ``amount`` at ``at`` the controls do not allow; else the
    allowances with it counted."""
    path = "Data.Instruction"
    if controls.valid_from is not None and at < controls.valid_from:
        raise FailsControlParameters("The consent is not valid yet", path=f"{path}.InstructedAmount",
                                     detail=f"ValidFromDateTime {controls.valid_from.isoformat()}")
    if controls.valid_to is not None and at >= controls.valid_to:
        raise FailsControlParameters("The consent is no longer valid", path=f"{path}.InstructedAmount",
                                     detail=f"ValidToDateTime {controls.valid_to.isoformat()}")
    if currency != controls.currency:
        raise FailsControlParameters(f"The consent allows payments in {controls.currency} only",
                                     path=f"{path}.InstructedAmount.Currency")
    if amount <= 0:
        raise FailsControlParameters("The amount must be positive", path=f"{path}.InstructedAmount.Amount")
    if amount > controls.maximum_individual:
        raise FailsControlParameters(
            f"The amount exceeds the consent's maximum of {controls.maximum_individual} {controls.currency} "
            "per payment", path=f"{path}.InstructedAmount.Amount")
    if controls.interaction_types and interaction_type not in controls.interaction_types:
        raise FailsControlParameters("The consent does not allow this PSUInteractionType",
                                     path="Data.PSUInteractionType")
    result = allowances(controls=controls, anchor=anchor, at=at, counted=counted, amount=amount)
    for allowance in result:
        if allowance.remaining < 0:
            limit = allowance.limit
            raise FailsControlParameters(
                f"The payment would exceed the consent's limit of {limit.amount} {limit.currency} per "
                f"{limit.alignment.lower()} {limit.period_type.lower()}",
                path=f"{path}.InstructedAmount.Amount",
                detail=f"period {allowance.start.isoformat()} to {allowance.end.isoformat()}",
            )
    return result
