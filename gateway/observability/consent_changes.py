"""Consent changes as they commit: ``obgw_consent_changes_total`` by audit event and actor (docs/production.md
section 5).

Every change of a consent (created, authorised, rejected, revoked, consumed, expired, deleted) is written with
its audit event in the same transaction (``consent.audit``). A listener on the database's session class notes the
events each flush adds and counts them when the transaction commits, so a change that rolls back is never
counted and no call site of the consent domain has to remember the metric. Access events (one per served call)
are left out: the request counters already see those calls.
"""

from __future__ import annotations

from typing import Any
from typing import Final

from sqlalchemy import event

from consent.audit import EventType
from consent.models import ConsentEvent
from gateway.observability import metrics
from gateway.store.db import Database

_PENDING: Final = "obgw_consent_changes"


def _noted(session: Any, flush_context: Any) -> None:
    changes = [(row.event, row.actor_type) for row in session.new
               if isinstance(row, ConsentEvent) and row.event != EventType.ACCESSED]
    if changes:
        session.info.setdefault(_PENDING, []).extend(changes)


def _committed(session: Any) -> None:
    for change, actor in session.info.pop(_PENDING, ()):
        metrics.consent_change(event=str(change), actor=str(actor))


def _rolled_back(session: Any) -> None:
    session.info.pop(_PENDING, None)


def watch(db: Database) -> None:
    """Count the consent changes committed through ``db`` (called once per database by the composition root)."""
    target = db.session_class
    # Marked on the class itself: SQLAlchemy's listener registry is keyed by object id, which a class created
    # after an earlier database's was collected can reuse, so ``event.contains`` could answer for the dead one.
    if target.__dict__.get(_PENDING):
        return
    setattr(target, _PENDING, True)
    event.listen(target, "after_flush", _noted)
    event.listen(target, "after_commit", _committed)
    event.listen(target, "after_rollback", _rolled_back)
