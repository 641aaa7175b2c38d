"""The dashboard's filters (consent.history_filters): by TPP, kind in plain words, active or past, and a date
range of history entries, both ends included."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.customer_views import HistoryEntry
from consent.history_filters import HistoryFilter
from consent.history_filters import KindGroup
from consent.history_filters import StatusGroup
from consent.history_filters import apply
from consent.history_filters import kind_words


def entry(day: int, event: str = "accessed") -> HistoryEntry:
    return HistoryEntry(event=event, at=datetime(2026, 3, day, 23, 59, tzinfo=UTC), actor_type="tpp",
                        actor_id="tpp-a", detail={})


def summary(consent_id: str, *, kind: str = "account-access", status: str = "Authorised",
            days: tuple[int, ...] = (1, 10, 20)) -> ConsentSummary:
    return ConsentSummary(
        consent_id=consent_id, kind=kind, client_id="tpp-a", status=status, permissions=(), groups=(),
        account_ids=(), created_at=datetime(2026, 3, 1, tzinfo=UTC), authorised_at=None, reauthorised_at=None,
        expires_at=None, last_accessed_at=None, last_access_endpoint=None, revocable=False,
        history=tuple(entry(d) for d in days),
    )


CLIENTS = [
    ClientConsents(client_id="tpp-a", consents=(
        summary("ais-1"), summary("funds-1", kind="funds-confirmation", status="Revoked", days=(2,)),
        summary("pay-1", kind="domestic-standing-order", status="Consumed", days=(25,)),
    )),
    ClientConsents(client_id="tpp-b", consents=(summary("vrp-1", kind="domestic-vrp", days=(5,)),)),
]


def ids(clients: list[ClientConsents]) -> list[str]:
    return [c.consent_id for group in clients for c in group.consents]


def test_no_filter_keeps_everything() -> None:
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter())) == ["ais-1", "funds-1", "pay-1", "vrp-1"]
    assert not HistoryFilter().narrows


def test_by_tpp_keeps_only_that_tpps_consents() -> None:
    kept = apply(clients=CLIENTS, rule=HistoryFilter(client_id="tpp-b"))
    assert [g.client_id for g in kept] == ["tpp-b"] and ids(kept) == ["vrp-1"]


def test_by_kind_a_standing_order_is_a_payment() -> None:
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter(kind=KindGroup.PAYMENT))) == ["pay-1"]
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter(kind=KindGroup.FUNDS))) == ["funds-1"]
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter(kind=KindGroup.VRP))) == ["vrp-1"]


def test_active_is_authorised_and_past_is_the_rest() -> None:
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter(status=StatusGroup.ACTIVE))) == ["ais-1", "vrp-1"]
    assert ids(apply(clients=CLIENTS, rule=HistoryFilter(status=StatusGroup.PAST))) == ["funds-1", "pay-1"]


def test_a_date_range_keeps_the_entries_of_both_end_days_and_the_consents_that_have_one() -> None:
    kept = apply(clients=CLIENTS, rule=HistoryFilter(since=date(2026, 3, 2), until=date(2026, 3, 10)))
    assert ids(kept) == ["ais-1", "funds-1", "vrp-1"]
    [ais] = [c for g in kept for c in g.consents if c.consent_id == "ais-1"]
    assert [h.at.day for h in ais.history] == [10]  # 23:59 on the last day is inside


def test_an_open_ended_range_has_one_bound() -> None:
    kept = apply(clients=CLIENTS, rule=HistoryFilter(since=date(2026, 3, 20)))
    assert ids(kept) == ["ais-1", "pay-1"]


def test_kinds_in_plain_words() -> None:
    assert kind_words("account-access") == "Account information (AIS)"
    assert kind_words("domestic-vrp") == "Variable recurring payments (VRP)"
    assert kind_words("funds-confirmation") == "Funds confirmation"
    assert kind_words("domestic-payment") == "Payment"
