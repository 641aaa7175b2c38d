"""The UK 90-day reconfirmation (docs/obie-notes.md section 10): an active AIS consent last confirmed by the
customer more than 90 days ago is one the app may ask about again; nothing else is."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from consent.reconfirmation import reconfirmation_due

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def due(*, kind: str = "account-access", status: str = "Authorised", authorised: datetime | None = NOW - 91 * DAY,
        reauthorised: datetime | None = None) -> datetime | None:
    return reconfirmation_due(kind=kind, status=status, authorised_at=authorised, reauthorised_at=reauthorised,
                              now=NOW)


def test_an_ais_consent_approved_more_than_90_days_ago_may_be_asked_about() -> None:
    assert due() == NOW - 91 * DAY


def test_exactly_90_days_is_not_yet() -> None:
    assert due(authorised=NOW - 90 * DAY) is None


def test_a_re_authorisation_starts_the_90_days_again() -> None:
    assert due(authorised=NOW - 200 * DAY, reauthorised=NOW - 10 * DAY) is None
    assert due(authorised=NOW - 300 * DAY, reauthorised=NOW - 120 * DAY) == NOW - 120 * DAY


def test_only_active_account_information_consents() -> None:
    assert due(kind="domestic-vrp") is None
    assert due(kind="funds-confirmation") is None
    assert due(status="Revoked") is None
    assert due(status="Expired") is None
    assert due(authorised=None) is None
