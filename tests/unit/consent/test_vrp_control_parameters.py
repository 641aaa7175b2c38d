"""The VRP consent checks beyond the schema and the limits in plain words (consent.vrp; vrp-openapi.yaml
OBDomesticVRPControlParameters; docs/obie-notes-vrp-events.md sections 2 and 4)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from consent import vrp
from consent.errors import ConsentError
from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _data(**control: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ValidFromDateTime": "2026-03-01T00:00:00+00:00",
        "ValidToDateTime": "2027-03-01T00:00:00+00:00",
        "MaximumIndividualAmount": {"Amount": "50", "Currency": "GBP"},
        "PeriodicLimits": [
            {"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100", "Currency": "GBP"},
            {"PeriodType": "Week", "PeriodAlignment": "Consent", "Amount": "40.5", "Currency": "GBP"},
        ],
        "VRPType": ["UK.OBIE.VRPType.Other"],
        "PSUAuthenticationMethods": ["UK.OBIE.SCA"],
    }
    base.update(control)
    return {"ControlParameters": base, "Initiation": {"CreditorAccount": {
        "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698", "Name": "ACME Inc"}}}


def test_a_valid_consent_passes() -> None:
    assert vrp.check_control_parameters(data=_data(), now=NOW)["VRPType"] == ["UK.OBIE.VRPType.Other"]


def test_valid_to_exactly_now_is_in_the_past() -> None:
    with pytest.raises(InvalidConsentDate):
        vrp.check_control_parameters(data=_data(ValidToDateTime="2026-03-01T12:00:00+00:00",
                                                ValidFromDateTime=None), now=NOW)


@pytest.mark.parametrize("change", [
    {"ValidFromDateTime": "2027-03-01T00:00:00+00:00"},  # equal to ValidTo
    {"ValidFromDateTime": "2028-01-01T00:00:00+00:00"},  # after ValidTo
    {"ValidToDateTime": "2026-01-01T00:00:00Z"},  # past
    {"ValidToDateTime": "2027-03-01T00:00:00"},  # no zone offset
], ids=["from-equals-to", "from-after-to", "to-past", "to-no-offset"])
def test_validity_window_refusals(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidConsentDate):
        vrp.check_control_parameters(data=_data(**change), now=NOW)


@pytest.mark.parametrize("change", [
    {"MaximumIndividualAmount": {"Amount": "0.00", "Currency": "GBP"}},
    {"MaximumIndividualAmount": {"Amount": "NaN", "Currency": "GBP"}},
    {"PeriodicLimits": [{"PeriodType": "Day", "PeriodAlignment": "Consent", "Amount": "0", "Currency": "GBP"}]},
    {"PeriodicLimits": [{"PeriodType": "Day", "PeriodAlignment": "Consent", "Amount": "5", "Currency": "EUR"}]},
    {"PeriodicLimits": [{"PeriodType": "Day", "PeriodAlignment": "Consent", "Amount": "5", "Currency": "GBP"},
                        {"PeriodType": "Day", "PeriodAlignment": "Consent", "Amount": "6", "Currency": "GBP"}]},
    {"VRPType": ["UK.OBIE.VRPType.Sweeping", "Sweeping"]},
], ids=["zero-maximum", "nan-maximum", "zero-limit", "other-currency", "duplicate-period", "unknown-type"])
def test_amount_currency_period_and_type_refusals(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidConsentRequest):
        vrp.check_control_parameters(data=_data(**change), now=NOW)


def test_missing_control_parameters_is_refused() -> None:
    with pytest.raises(ConsentError):
        vrp.check_control_parameters(data={}, now=NOW)


def test_limits_in_plain_words() -> None:
    rows = vrp.describe(data=_data())
    assert ("Payee", "ACME Inc (ending 5698)") in rows
    assert ("Per payment", "up to GBP 50.00") in rows
    assert ("Limit", "GBP 100.00 per calendar month") in rows
    assert ("Limit", "GBP 40.50 per week") in rows
    assert ("Type", "commercial payments") in rows
    assert ("From", "1 March 2026") in rows and ("Until", "1 March 2027") in rows


def test_sweeping_in_plain_words_and_no_end_date() -> None:
    data = _data(VRPType=["UK.OBIE.VRPType.Sweeping"])
    del data["ControlParameters"]["ValidToDateTime"]
    rows = vrp.describe(data=data)
    assert ("Type", "sweeping between your own accounts") in rows
    assert ("Until", "you withdraw it") in rows
