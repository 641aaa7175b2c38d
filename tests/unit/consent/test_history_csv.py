"""The CSV export (consent.history_csv): one row per history event, quoted by the csv module, and no cell a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime

from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.customer_views import HistoryEntry
from consent.history_csv import HEADER
from consent.history_csv import detail_summary
from consent.history_csv import history_csv

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def consent(history: tuple[HistoryEntry, ...]) -> ConsentSummary:
    return ConsentSummary(
        consent_id="c-1", kind="funds-confirmation", client_id="tpp-a", status="Authorised", permissions=(),
        groups=(), account_ids=(), created_at=AT, authorised_at=AT, reauthorised_at=None, expires_at=None,
        last_accessed_at=None, last_access_endpoint=None, revocable=True, history=history,
    )


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_one_row_per_event_after_the_header() -> None:
    history = (
        HistoryEntry(event="created", at=AT, actor_type="tpp", actor_id="tpp-a", detail={}),
        HistoryEntry(event="accessed", at=AT, actor_type="tpp", actor_id="tpp-a",
                     detail={"endpoint": "/funds-confirmations", "answer": {"funds_available": True}}),
    )
    parsed = rows(history_csv(clients=[ClientConsents(client_id="tpp-a", consents=(consent(history),))],
                              names={"tpp-a": "Budget Buddy"}))
    assert parsed[0] == list(HEADER)
    assert parsed[1] == ["c-1", "Budget Buddy", "Funds confirmation", "Authorised", "created",
                         "2026-03-01T09:30:00+00:00", "tpp tpp-a", ""]
    assert parsed[2][4] == "accessed"
    assert parsed[2][7] == 'answer={"funds_available":true}; endpoint=/funds-confirmations'
    assert len(parsed) == 3


def test_commas_quotes_and_line_breaks_survive_the_round_trip() -> None:
    history = (HistoryEntry(event="accessed", at=AT, actor_type="tpp", actor_id="tpp-a",
                            detail={"reference": 'a, "b"\nc'}),)
    text = history_csv(clients=[ClientConsents(client_id="tpp-a", consents=(consent(history),))],
                       names={"tpp-a": 'Shop, "Best"'})
    [_, row] = rows(text)
    assert row[1] == 'Shop, "Best"' and row[7] == 'reference=a, "b"\nc'
    assert '"Shop, ""Best"""' in text


def test_a_tpp_name_that_looks_like_a_formula_is_neutralised() -> None:
    history = (HistoryEntry(event="created", at=AT, actor_type="tpp", actor_id="tpp-a", detail={}),)
    text = history_csv(clients=[ClientConsents(client_id="tpp-a", consents=(consent(history),))],
                       names={"tpp-a": "=HYPERLINK(\"x\")"})
    assert rows(text)[1][1] == "'=HYPERLINK(\"x\")"


def test_detail_summary_is_in_key_order() -> None:
    assert detail_summary({"b": 1, "a": "x"}) == "a=x; b=1"
