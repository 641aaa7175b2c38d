"""OBDomesticVRPControlParameters (OBIE VRP v3.1.11): each control's allowed and refused case at its boundary."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from consent.vrp_controls import BANK_TIME
from consent.vrp_controls import Counted
from consent.vrp_controls import FailsControlParameters
from consent.vrp_controls import PeriodicLimit
from consent.vrp_controls import anchor_of
from consent.vrp_controls import check_payment
from consent.vrp_controls import parse
from consent.vrp_controls import period_of


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=BANK_TIME)


def controls(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "VRPType": ["UK.OBIE.VRPType.Sweeping"],
        "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
        "ValidFromDateTime": "2026-01-01T00:00:00+00:00",
        "ValidToDateTime": "2027-01-01T00:00:00+00:00",
        "MaximumIndividualAmount": {"Amount": "100.00", "Currency": "GBP"},
        "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "250.00",
                            "Currency": "GBP"}],
    }
    document.update(changes)
    return document


def pay(document: dict[str, Any], *, amount: str, at: datetime, counted: tuple[Counted, ...] = (),
        currency: str = "GBP", interaction: str | None = "InSession") -> list[Any]:
    parsed = parse(document)
    return check_payment(controls=parsed, anchor=anchor_of(controls=parsed, created=at), at=at.astimezone(UTC),
                         amount=Decimal(amount), currency=currency, interaction_type=interaction, counted=counted)


def limit(period_type: str, alignment: str) -> PeriodicLimit:
    return PeriodicLimit(period_type=period_type, alignment=alignment, amount=Decimal(10), currency="GBP")


# --------------------------------------------------------------------------- validity window


def test_a_payment_at_valid_from_is_allowed_and_a_second_before_is_refused() -> None:
    assert pay(controls(), amount="1.00", at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(FailsControlParameters) as refused:
        pay(controls(), amount="1.00", at=datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert refused.value.ob_code == "UK.OBIE.Rules.FailsControlParameters"
    assert refused.value.status_code == 400


def test_valid_to_is_exclusive() -> None:
    assert pay(controls(), amount="1.00", at=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(FailsControlParameters):
        pay(controls(), amount="1.00", at=datetime(2027, 1, 1, tzinfo=UTC))


def test_without_dates_the_consent_has_no_window() -> None:
    document = controls()
    del document["ValidFromDateTime"], document["ValidToDateTime"]
    assert pay(document, amount="1.00", at=datetime(2030, 6, 1, tzinfo=UTC))


# --------------------------------------------------------------------------- amounts, currency, interaction


def test_exactly_the_maximum_individual_amount_is_allowed_a_penny_more_refused() -> None:
    at = datetime(2026, 3, 3, tzinfo=UTC)
    assert pay(controls(), amount="100.00", at=at)
    with pytest.raises(FailsControlParameters) as refused:
        pay(controls(), amount="100.01", at=at)
    assert refused.value.path == "Data.Instruction.InstructedAmount.Amount"


def test_another_currency_is_refused() -> None:
    with pytest.raises(FailsControlParameters) as refused:
        pay(controls(), amount="1.00", at=datetime(2026, 3, 3, tzinfo=UTC), currency="EUR")
    assert refused.value.path == "Data.Instruction.InstructedAmount.Currency"


def test_a_zero_amount_is_refused() -> None:
    with pytest.raises(FailsControlParameters):
        pay(controls(), amount="0.00", at=datetime(2026, 3, 3, tzinfo=UTC))


def test_the_interaction_type_must_be_one_the_consent_allows() -> None:
    document = controls(PSUInteractionTypes=["OffSession"])
    at = datetime(2026, 3, 3, tzinfo=UTC)
    assert pay(document, amount="1.00", at=at, interaction="OffSession")
    with pytest.raises(FailsControlParameters) as refused:
        pay(document, amount="1.00", at=at, interaction="InSession")
    assert refused.value.path == "Data.PSUInteractionType"


def test_without_interaction_types_any_is_allowed() -> None:
    assert pay(controls(), amount="1.00", at=datetime(2026, 3, 3, tzinfo=UTC), interaction=None)


# --------------------------------------------------------------------------- periodic limits


def test_a_payment_reaching_the_period_limit_exactly_is_allowed_and_the_next_penny_refused() -> None:
    at = datetime(2026, 3, 20, tzinfo=UTC)
    spent = (Counted(at=datetime(2026, 3, 1, tzinfo=UTC), amount=Decimal("100")),
             Counted(at=datetime(2026, 3, 10, tzinfo=UTC), amount=Decimal("100")))
    [allowance] = pay(controls(), amount="50.00", at=at, counted=spent)
    assert (allowance.used, allowance.remaining) == (Decimal("250.00"), Decimal("0.00"))
    with pytest.raises(FailsControlParameters) as refused:
        pay(controls(), amount="50.01", at=at, counted=spent)
    assert "250.00 GBP per calendar month" in refused.value.message


def test_payments_of_an_earlier_period_do_not_count() -> None:
    spent = (Counted(at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC), amount=Decimal("250")),)
    [allowance] = pay(controls(), amount="100.00", at=datetime(2026, 3, 1, tzinfo=UTC), counted=spent)
    assert allowance.used == Decimal("100.00")


def test_every_periodic_limit_applies() -> None:
    document = controls(PeriodicLimits=[
        {"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "250.00", "Currency": "GBP"},
        {"PeriodType": "Day", "PeriodAlignment": "Calendar", "Amount": "60.00", "Currency": "GBP"},
    ])
    at = datetime(2026, 3, 20, 12, tzinfo=UTC)
    spent = (Counted(at=datetime(2026, 3, 20, 8, tzinfo=UTC), amount=Decimal("50")),)
    assert pay(document, amount="10.00", at=at, counted=spent)
    with pytest.raises(FailsControlParameters) as refused:
        pay(document, amount="10.01", at=at, counted=spent)
    assert "per calendar day" in refused.value.message


# --------------------------------------------------------------------------- period boundaries


@pytest.mark.parametrize(("period_type", "at", "start", "end"), [
    ("Day", london(2026, 3, 4, 15), london(2026, 3, 4), london(2026, 3, 5)),
    ("Week", london(2026, 3, 4, 15), london(2026, 3, 2), london(2026, 3, 9)),  # Wednesday: Monday to Monday
    ("Week", london(2026, 3, 8, 23, 59), london(2026, 3, 2), london(2026, 3, 9)),  # Sunday night
    ("Fortnight", london(2026, 2, 14, 23), london(2026, 2, 1), london(2026, 2, 15)),
    ("Fortnight", london(2026, 2, 15), london(2026, 2, 15), london(2026, 3, 1)),
    ("Month", london(2026, 2, 28, 23), london(2026, 2, 1), london(2026, 3, 1)),
    ("Half-year", london(2026, 6, 30, 23), london(2026, 1, 1), london(2026, 7, 1)),
    ("Half-year", london(2026, 7, 1), london(2026, 7, 1), london(2027, 1, 1)),
    ("Year", london(2026, 12, 31, 23), london(2026, 1, 1), london(2027, 1, 1)),
])
def test_calendar_periods(period_type: str, at: datetime, start: datetime, end: datetime) -> None:
    assert period_of(limit=limit(period_type, "Calendar"), anchor=london(2025, 5, 17), at=at) == (start, end)


@pytest.mark.parametrize(("period_type", "at", "start", "end"), [
    ("Day", london(2026, 3, 4, 15), london(2026, 3, 4), london(2026, 3, 5)),
    ("Week", london(2026, 1, 21), london(2026, 1, 21), london(2026, 1, 28)),  # anchor Wed 14 Jan
    ("Week", london(2026, 1, 20, 23, 59), london(2026, 1, 14), london(2026, 1, 21)),
    ("Fortnight", london(2026, 1, 27, 23), london(2026, 1, 14), london(2026, 1, 28)),
    ("Month", london(2026, 2, 13, 23), london(2026, 1, 14), london(2026, 2, 14)),
    ("Month", london(2026, 2, 14), london(2026, 2, 14), london(2026, 3, 14)),
    ("Half-year", london(2026, 7, 14), london(2026, 7, 14), london(2027, 1, 14)),
    ("Year", london(2027, 1, 13, 12), london(2026, 1, 14), london(2027, 1, 14)),
])
def test_consent_aligned_periods_count_from_the_anchor_day(
    period_type: str, at: datetime, start: datetime, end: datetime
) -> None:
    assert period_of(limit=limit(period_type, "Consent"), anchor=london(2026, 1, 14, 16, 30), at=at) == (start, end)


def test_consent_aligned_months_clamp_to_the_month_end_without_drifting() -> None:
    anchor = london(2026, 1, 31)
    month = limit("Month", "Consent")
    assert period_of(limit=month, anchor=anchor, at=london(2026, 2, 28, 12)) == (london(2026, 2, 28), london(2026, 3, 31))
    assert period_of(limit=month, anchor=anchor, at=london(2026, 2, 27)) == (london(2026, 1, 31), london(2026, 2, 28))
    assert period_of(limit=month, anchor=anchor, at=london(2026, 3, 30)) == (london(2026, 2, 28), london(2026, 3, 31))
    assert period_of(limit=month, anchor=anchor, at=london(2026, 4, 1)) == (london(2026, 3, 31), london(2026, 4, 30))


def test_calendar_days_are_london_days_across_the_clock_change() -> None:
    # 29 March 2026: British Summer Time starts; the day is 23 hours long and ends at 23:00 UTC.
    start, end = period_of(limit=limit("Day", "Calendar"), anchor=london(2026, 1, 1),
                           at=datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 23, tzinfo=UTC))


def test_the_anchor_is_valid_from_else_the_creation() -> None:
    created = datetime(2026, 1, 5, tzinfo=UTC)
    assert anchor_of(controls=parse(controls()), created=created) == datetime(2026, 1, 1, tzinfo=UTC)
    document = controls()
    del document["ValidFromDateTime"]
    assert anchor_of(controls=parse(document), created=created) == created
