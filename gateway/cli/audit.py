"""``obgw audit verify``: walk the consent audit hash chain in the gateway database; ``obgw audit prune``: delete
the events older than the retention (two years by default) behind a checkpoint (docs/architecture.md section
8.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store.db import Database


async def verify(*, db: Database) -> dict[str, Any]:
    from consent import audit

    async with db.session() as session:
        report = await audit.verify_chain(session=session)
    return {
        "ok": report.ok,
        "events": report.events,
        "pruned_through": report.pruned_through,
        "seq": report.seq,
        "reason": report.reason,
        "message": report.message,
    }


async def prune(*, db: Database, before: datetime, now: datetime, dry_run: bool) -> dict[str, Any]:
    """Prune (or count, with ``dry_run``) the events older than ``before``; ``ok`` false if the chain is broken
    (then nothing is pruned)."""
    from consent import audit_retention

    async with db.session() as session:
        try:
            done = await audit_retention.prune(session=session, before=before, now=now, dry_run=dry_run)
        except audit_retention.ChainBroken as broken:
            return {"ok": False, "dry_run": dry_run, "before": before.isoformat(), "pruned": 0,
                    "message": str(broken)}
    return {
        "ok": True,
        "dry_run": done.dry_run,
        "before": done.before.isoformat(),
        "pruned": done.pruned,
        "first_seq": done.first_seq,
        "through_seq": done.through_seq,
        "through_at": done.through_at.isoformat() if done.through_at else None,
        "checkpoint": done.checkpoint_id,
    }
