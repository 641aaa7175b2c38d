"""Domestic VRP consents: the checks beyond the schema and the limits in plain words.

OBIE VRP v3.1.11, ``openapi/obie/vrp/v3.1.11/vrp-openapi.yaml`` ``OBDomesticVRPConsentRequest`` and
``OBDomesticVRPControlParameters`` (docs/obie-notes-vrp-events.md sections 2 and 4). The schema fixes the shapes;
what it cannot say is checked here, before anything is stored:

* ``ValidFromDateTime`` strictly before ``ValidToDateTime`` when both are given, and ``ValidToDateTime`` not
  in the past (``UK.OBIE.Field.InvalidDate``);
* ``MaximumIndividualAmount`` and every ``PeriodicLimits`` ``Amount`` greater than zero, all in one currency
  (the limits bound one stream of payments from one account: ``UK.OBIE.Field.Invalid``);
* no two ``PeriodicLimits`` with the same ``PeriodType`` and ``PeriodAlignment`` (which would leave the
  applicable limit undefined: ``UK.OBIE.Field.Invalid``);
* ``VRPType`` values from ``OBVRPConsentType`` (an ``x-namespaced-enum``, which the schema does not enforce:
  ``UK.OBIE.Unsupported.Scheme`` is for schemes, so ``UK.OBIE.Field.Invalid``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any
from typing import Final

from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest
from consent.errors import MissingConsentField
from consent.permissions import long_date
from consent.wire import parse_datetime

CONTROL: Final = "Data.ControlParameters"
SWEEPING: Final = "UK.OBIE.VRPType.Sweeping"
OTHER: Final = "UK.OBIE.VRPType.Other"
# OBVRPConsentType (x-namespaced-enum).
VRP_TYPES: Final = frozenset({SWEEPING, OTHER})
VRP_TYPE_WORDS: Final[Mapping[str, str]] = {
    SWEEPING: "sweeping between your own accounts",
    OTHER: "commercial payments",
}
# PeriodType as a customer reads it, with the alignment: Calendar = "calendar month", Consent = "month".
_PERIOD_WORDS: Final[Mapping[str, str]] = {
    "Day": "day",
    "Week": "week",
    "Fortnight": "fortnight",
    "Month": "month",
    "Half-year": "half-year",
    "Year": "year",
}


def _positive(value: Any, *, path: str) -> Decimal:
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise InvalidConsentRequest("Expected an amount", path=path)
    if amount <= 0:
        raise InvalidConsentRequest("The amount must be greater than zero", path=path)
    return amount


def check_control_parameters(*, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The request's ``ControlParameters`` once they pass the checks of the module docstring; else the OBIE error."""
    control = data.get("ControlParameters")
    if not isinstance(control, Mapping):
        raise MissingConsentField("ControlParameters is required", path=CONTROL)
    valid_from = control.get("ValidFromDateTime")
    valid_to = control.get("ValidToDateTime")
    starts = parse_datetime(valid_from, path=f"{CONTROL}.ValidFromDateTime") if valid_from is not None else None
    ends = parse_datetime(valid_to, path=f"{CONTROL}.ValidToDateTime") if valid_to is not None else None
    if ends is not None and ends <= now:
        raise InvalidConsentDate("ValidToDateTime is in the past", path=f"{CONTROL}.ValidToDateTime")
    if starts is not None and ends is not None and starts >= ends:
        raise InvalidConsentDate("ValidFromDateTime must be before ValidToDateTime",
                                 path=f"{CONTROL}.ValidToDateTime")
    maximum = control.get("MaximumIndividualAmount")
    if not isinstance(maximum, Mapping):
        raise MissingConsentField("MaximumIndividualAmount is required", path=f"{CONTROL}.MaximumIndividualAmount")
    _positive(maximum.get("Amount"), path=f"{CONTROL}.MaximumIndividualAmount.Amount")
    currency = maximum.get("Currency")
    limits = control.get("PeriodicLimits")
    if not isinstance(limits, list) or not limits:
        raise MissingConsentField("PeriodicLimits is required", path=f"{CONTROL}.PeriodicLimits")
    seen: set[tuple[Any, Any]] = set()
    for index, limit in enumerate(limits):
        where = f"{CONTROL}.PeriodicLimits[{index}]"
        if not isinstance(limit, Mapping):
            raise InvalidConsentRequest("A periodic limit must be an object", path=where)
        _positive(limit.get("Amount"), path=f"{where}.Amount")
        if limit.get("Currency") != currency:
            raise InvalidConsentRequest(
                "Every limit must be in the currency of MaximumIndividualAmount", path=f"{where}.Currency"
            )
        period = (limit.get("PeriodType"), limit.get("PeriodAlignment"))
        if period in seen:
            raise InvalidConsentRequest(
                f"Two limits for the same period ({period[0]}, {period[1]})", path=f"{where}.PeriodType"
            )
        seen.add(period)
    types = control.get("VRPType")
    if not isinstance(types, list) or not types:
        raise MissingConsentField("VRPType is required", path=f"{CONTROL}.VRPType")
    for index, value in enumerate(types):
        if value not in VRP_TYPES:
            raise InvalidConsentRequest(f"Unknown VRPType {value!r}", path=f"{CONTROL}.VRPType[{index}]")
    return dict(control)


def valid_to(*, data: Mapping[str, Any]) -> datetime | None:
    """``ValidToDateTime`` as UTC (checked by ``check_control_parameters``): when the consent stops."""
    control = data.get("ControlParameters")
    value = control.get("ValidToDateTime") if isinstance(control, Mapping) else None
    return parse_datetime(value, path=f"{CONTROL}.ValidToDateTime") if value is not None else None


def _money(value: Mapping[str, Any]) -> str:
    amount = value.get("Amount")
    try:
        shown = f"{Decimal(str(amount)):.2f}"
    except InvalidOperation:
        shown = str(amount)
    return f"{value.get('Currency', '')} {shown}".strip()


def limit_words(*, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The consent's limits as (label, value) rows: ``("Per payment", "GBP 50.00")``,
    ``("Limit", "GBP 100.00 per calendar month")``; empty when ``data`` carries no ControlParameters."""
    control = data.get("ControlParameters")
    if not isinstance(control, Mapping):
        return []
    rows: list[tuple[str, str]] = []
    maximum = control.get("MaximumIndividualAmount")
    if isinstance(maximum, Mapping):
        rows.append(("Per payment", f"up to {_money(maximum)}"))
    for limit in control.get("PeriodicLimits") or []:
        if not isinstance(limit, Mapping):
            continue
        period = _PERIOD_WORDS.get(str(limit.get("PeriodType")), str(limit.get("PeriodType")).lower())
        if limit.get("PeriodAlignment") == "Calendar":
            period = f"calendar {period}"
        rows.append(("Limit", f"{_money(limit)} per {period}"))
    kinds = [VRP_TYPE_WORDS.get(str(t), str(t)) for t in control.get("VRPType") or []]
    if kinds:
        rows.append(("Type", ", ".join(kinds)))
    return rows


def validity(*, data: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``(ValidFromDateTime, ValidToDateTime)`` as UTC, each ``None`` when absent or unreadable."""
    control = data.get("ControlParameters")
    if not isinstance(control, Mapping):
        return None, None
    out: list[datetime | None] = []
    for name in ("ValidFromDateTime", "ValidToDateTime"):
        try:
            out.append(parse_datetime(control.get(name), path=name) if control.get(name) else None)
        except InvalidConsentDate:
            out.append(None)
    return out[0], out[1]


def describe(*, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The consent in plain words for the customer (the consent page and the dashboard): who is paid, up to how
    much per payment and per period, sweeping or commercial, valid from and until."""
    initiation = data.get("Initiation")
    initiation = initiation if isinstance(initiation, Mapping) else {}
    creditor = initiation.get("CreditorAccount")
    creditor = creditor if isinstance(creditor, Mapping) else {}
    name, number = creditor.get("Name"), creditor.get("Identification")
    ending = f"(ending {number[-4:]})" if isinstance(number, str) and len(number) >= 4 else None
    payee = " ".join(p for p in (name if isinstance(name, str) else None, ending) if p)
    starts, ends = validity(data=data)
    rows: list[tuple[str, str]] = [("Payee", payee or "the payee the app names with each payment")]
    rows += limit_words(data=data)
    if starts is not None:
        rows.append(("From", long_date(starts)))
    rows.append(("Until", long_date(ends) if ends else "you withdraw it"))
    return rows
