"""The dashboard's filters over the customer's consents and their history (docs/architecture.md section 1,
journey 6): by TPP, by kind in plain words (account information, payment, VRP, funds confirmation), by status
(active or past) and by a date range of history entries.

The same filter narrows the page, the JSON and CSV exports and the printable view, so what the customer
downloads is what they were looking at. A date range keeps only the history entries inside it (whole UTC days,
both ends included, as the dashboard shows times in UTC) and only the consents that have an entry inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import date
from enum import StrEnum
from typing import Final

from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus

K = ConsentKind


class KindGroup(StrEnum):
    """What a customer calls a consent: the four kinds the dashboard filters by."""

    AIS = "ais"
    PAYMENT = "payment"
    VRP = "vrp"
    FUNDS = "funds"


KIND_GROUP: Final[dict[str, KindGroup]] = {
    K.ACCOUNT_ACCESS: KindGroup.AIS,
    K.DOMESTIC_PAYMENT: KindGroup.PAYMENT,
    K.DOMESTIC_SCHEDULED_PAYMENT: KindGroup.PAYMENT,
    K.DOMESTIC_STANDING_ORDER: KindGroup.PAYMENT,
    K.DOMESTIC_VRP: KindGroup.VRP,
    K.FUNDS_CONFIRMATION: KindGroup.FUNDS,
}

GROUP_WORDS: Final[dict[KindGroup, str]] = {
    KindGroup.AIS: "Account information (AIS)",
    KindGroup.PAYMENT: "Payment",
    KindGroup.VRP: "Variable recurring payments (VRP)",
    KindGroup.FUNDS: "Funds confirmation",
}

# The consent kind itself, for the card's heading: a payment says which one.
KIND_WORDS: Final[dict[str, str]] = {
    K.ACCOUNT_ACCESS: "Account information (AIS)",
    K.DOMESTIC_PAYMENT: "Payment",
    K.DOMESTIC_SCHEDULED_PAYMENT: "Scheduled payment",
    K.DOMESTIC_STANDING_ORDER: "Standing order",
    K.DOMESTIC_VRP: "Variable recurring payments (VRP)",
    K.FUNDS_CONFIRMATION: "Funds confirmation",
}


def kind_words(kind: str) -> str:
    """The consent kind in plain words (an unknown kind as stored)."""
    return KIND_WORDS.get(kind, kind)


class StatusGroup(StrEnum):
    ACTIVE = "active"
    PAST = "past"


def is_active(summary: ConsentSummary) -> bool:
    """Active: authorised and not expired (``ConsentSummary.status`` already shows an expired one as Expired)."""
    return summary.status == ConsentStatus.AUTHORISED


@dataclass(frozen=True, kw_only=True)
class HistoryFilter:
    """Each field narrows; ``None`` does not. ``since`` and ``until`` are UTC days, both included."""

    client_id: str | None = None
    kind: KindGroup | None = None
    status: StatusGroup | None = None
    since: date | None = None
    until: date | None = None

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def narrows(self) -> bool:
        return self != HistoryFilter()


def _in_range(day: date, *, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


def _keeps(summary: ConsentSummary, rule: HistoryFilter) -> bool:
    if rule.kind is not None and KIND_GROUP.get(summary.kind) != rule.kind:
        return False
    if rule.status is not None and is_active(summary) != (rule.status == StatusGroup.ACTIVE):
        return False
    return True


def apply(*, clients: Sequence[ClientConsents], rule: HistoryFilter) -> list[ClientConsents]:
    """The customer's consents narrowed by ``rule``; TPPs left with no consent are dropped."""
    kept: list[ClientConsents] = []
    for group in clients:
        if rule.client_id is not None and group.client_id != rule.client_id:
            continue
        consents: list[ConsentSummary] = []
        for summary in group.consents:
            if not _keeps(summary, rule):
                continue
            if rule.dated:
                history = tuple(h for h in summary.history
                                if _in_range(h.at.astimezone(UTC).date(), since=rule.since, until=rule.until))
                if not history:
                    continue
                summary = replace(summary, history=history)
            consents.append(summary)
        if consents:
            kept.append(ClientConsents(client_id=group.client_id, consents=tuple(consents)))
    return kept
