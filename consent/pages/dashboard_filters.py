"""The dashboard's filter form (docs/architecture.md section 1, journey 6): GET query parameters ``tpp``, ``kind``,
``status``, ``from`` and ``to``, read into a ``HistoryFilter``, and the form's choices in plain words.

A plain GET form, rendered by the server: no JavaScript, each control labelled, and the same query string carried
to the exports and the printable view. A value that is not one of the choices, or a date that is not a
``YYYY-MM-DD`` day, is ignored and named in a message, never an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from consent.customer_views import ClientConsents
from consent.history_filters import GROUP_WORDS
from consent.history_filters import HistoryFilter
from consent.history_filters import KindGroup
from consent.history_filters import StatusGroup

STATUS_WORDS = {StatusGroup.ACTIVE: "Active", StatusGroup.PAST: "Past (ended, withdrawn or never approved)"}


@dataclass(frozen=True, kw_only=True)
class ReadFilter:
    rule: HistoryFilter
    problems: tuple[str, ...]
    query: str  # the accepted filters as a query string ("" when none), for the export and print links


def _day(raw: str, label: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"The {label} date is not a date like 2026-03-01, so it is not used.")
        return None


def read_filter(*, params: Mapping[str, str], client_ids: Sequence[str]) -> ReadFilter:
    """The filter the query ``params`` ask for, among the customer's own TPPs ``client_ids``."""
    problems: list[str] = []
    tpp = params.get("tpp", "")
    if tpp and tpp not in client_ids:
        problems.append("That app is not one you gave access to, so all apps are shown.")
        tpp = ""
    kind_raw, status_raw = params.get("kind", ""), params.get("status", "")
    kind = KindGroup(kind_raw) if kind_raw in set(KindGroup) else None
    if kind_raw and kind is None:
        problems.append("That kind of access is not known, so every kind is shown.")
    status = StatusGroup(status_raw) if status_raw in set(StatusGroup) else None
    if status_raw and status is None:
        problems.append("That status is not known, so active and past are shown.")
    since = _day(params.get("from", ""), "from", problems)
    until = _day(params.get("to", ""), "to", problems)
    if since is not None and until is not None and since > until:
        problems.append("The from date is after the to date, so the dates are not used.")
        since = until = None
    rule = HistoryFilter(client_id=tpp or None, kind=kind, status=status, since=since, until=until)
    pairs = [(k, v) for k, v in (
        ("tpp", tpp), ("kind", kind.value if kind else ""), ("status", status.value if status else ""),
        ("from", since.isoformat() if since else ""), ("to", until.isoformat() if until else ""),
    ) if v]
    return ReadFilter(rule=rule, problems=tuple(problems), query=urlencode(pairs))


def form_context(*, read: ReadFilter, clients: Sequence[ClientConsents], names: Mapping[str, str]) -> dict[str, Any]:
    """The filter form's choices, each marked selected as ``read`` says."""
    rule = read.rule
    return {
        "tpp_options": [{"value": c.client_id, "label": names.get(c.client_id, c.client_id),
                         "selected": c.client_id == rule.client_id} for c in clients],
        "kind_options": [{"value": k.value, "label": words, "selected": k == rule.kind}
                         for k, words in GROUP_WORDS.items()],
        "status_options": [{"value": s.value, "label": words, "selected": s == rule.status}
                           for s, words in STATUS_WORDS.items()],
        "since": rule.since.isoformat() if rule.since else "",
        "until": rule.until.isoformat() if rule.until else "",
        "narrowed": rule.narrows,
        "problems": list(read.problems),
        "query": read.query,
    }
