"""AISP profile "TransactionFromDateTime/TransactionToDateTime": the consented window clamps the query."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from consent.access import ConsentGrant
from gateway.pipeline.consent_check import Window
from gateway.pipeline.consent_check import clamp_window


def _grant(start: datetime | None, end: datetime | None) -> ConsentGrant:
    return ConsentGrant(consent_id="c", kind="account-access", client_id="t", psu_id="p", permissions=frozenset(),
                        account_ids=("a",), transaction_from=start, transaction_to=end, expires_at=None)


JAN = datetime(2024, 1, 1, tzinfo=UTC)
JUN = datetime(2024, 6, 1, tzinfo=UTC)


def test_request_outside_the_consented_window_is_narrowed_to_it() -> None:
    out = clamp_window(requested=Window(start=datetime(2023, 1, 1), end=datetime(2025, 1, 1)), grant=_grant(JAN, JUN))
    assert out == Window(start=JAN, end=JUN)


def test_request_without_dates_gets_the_consented_window() -> None:
    assert clamp_window(requested=Window(start=None, end=None), grant=_grant(JAN, JUN)) == Window(start=JAN, end=JUN)


def test_request_inside_the_window_is_kept_and_read_as_utc() -> None:
    out = clamp_window(requested=Window(start=datetime(2024, 2, 1), end=datetime(2024, 3, 1)), grant=_grant(JAN, JUN))
    assert out == Window(start=datetime(2024, 2, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC))


def test_unbounded_consent_leaves_the_request_alone() -> None:
    assert clamp_window(requested=Window(start=None, end=None), grant=_grant(None, None)) == Window(start=None, end=None)
