"""The dashboard's view of a VRP consent (consent.vrp_usage): the payments made and, per periodic limit, what is
used and left in the current period, counting only payments the bank did not reject (VRP API v3.1.11
OBDomesticVRPControlParameters; docs/obie-notes-vrp-events.md section 5)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal

from consent.models import Consent
from consent.vrp_usage import VrpPaymentLine
from consent.vrp_usage import allowance_words
from consent.vrp_usage import payment_words
from consent.vrp_usage import usage

CREATED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _consent() -> Consent:
    return Consent(
        consent_id="vrpc-1", kind="domestic-vrp", client_id="c", status="Authorised", created_at=CREATED,
        status_updated_at=CREATED, risk={},
        data={"ControlParameters": {
            "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
            "PeriodicLimits": [
                {"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100.00", "Currency": "GBP"},
                {"PeriodType": "Week", "PeriodAlignment": "Consent", "Amount": "60.00", "Currency": "GBP"},
            ],
            "VRPType": ["UK.OBIE.VRPType.Sweeping"], "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"]}},
    )


def _line(day: int, amount: str, *, counted: bool = True) -> VrpPaymentLine:
    return VrpPaymentLine(payment_id=f"p{day}", at=datetime(2026, 3, day, 12, 0, tzinfo=UTC), amount=Decimal(amount),
                          currency="GBP", counted=counted)


def test_only_counted_payments_in_the_current_period_use_the_allowance() -> None:
    payments = [_line(11, "20.00"), _line(18, "15.00"), _line(19, "45.00", counted=False)]
    seen = usage(consent=_consent(), payments=payments, at=datetime(2026, 3, 20, tzinfo=UTC))
    month, week = seen.allowances
    assert (month.used, month.remaining) == (Decimal("35.00"), Decimal("65.00"))
    # Consent-aligned weeks start on the consent's day (10, 17, 24 March): only the 18th's payment is in this one.
    assert (week.used, week.remaining) == (Decimal("15.00"), Decimal("45.00"))
    assert [p.payment_id for p in seen.payments] == ["p19", "p18", "p11"]  # newest first


def test_the_words_say_what_is_used_and_left_and_when_the_period_ends() -> None:
    seen = usage(consent=_consent(), payments=[_line(11, "20.00")], at=datetime(2026, 3, 20, tzinfo=UTC))
    assert allowance_words(seen.allowances[0]) == (
        "This calendar month: GBP 20.00 used, GBP 80.00 left (to the end of 31 March 2026)")
    assert allowance_words(seen.allowances[1]).startswith("This week of the consent: GBP 0.00 used, GBP 60.00 left")
    assert payment_words(_line(19, "45.00", counted=False)) == "19 March 2026: GBP 45.00 (rejected by the bank, not counted)"
