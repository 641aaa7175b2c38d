"""The customer's consent history as CSV (docs/architecture.md section 1, journey 6): one row per history event,
for a spreadsheet, beside the JSON export of the same consents.

Columns: consent id, TPP name, kind (in plain words), status, event, when (UTC, ISO 8601), actor and a summary
of the event's detail (``key=value`` pairs in key order, nested values as compact JSON). The ``csv`` module quotes
every field that needs it. A TPP chooses its own name and some detail (an endpoint, a reference), so a cell that
a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with an apostrophe (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from typing import Any
from typing import Final

from consent.customer_views import ClientConsents
from consent.history_filters import kind_words

HEADER: Final = ("consent_id", "tpp_name", "kind", "status", "event", "at_utc", "actor", "detail")
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def detail_summary(detail: Mapping[str, Any]) -> str:
    """``key=value; key=value`` in key order; strings as they are, anything else as compact JSON."""
    parts = []
    for key in sorted(detail):
        value = detail[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
        parts.append(f"{key}={text}")
    return "; ".join(parts)


def history_csv(*, clients: Sequence[ClientConsents], names: Mapping[str, str]) -> str:
    """One row per history event of ``clients`` (TPP names from ``names``, else the client id), header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for group in clients:
        tpp = names.get(group.client_id, group.client_id)
        for consent in group.consents:
            for entry in consent.history:
                actor = f"{entry.actor_type} {entry.actor_id}".strip()
                writer.writerow([_cell(v) for v in (
                    consent.consent_id, tpp, kind_words(consent.kind), consent.status, entry.event,
                    entry.at.astimezone(UTC).isoformat(), actor, detail_summary(entry.detail),
                )])
    return out.getvalue()
