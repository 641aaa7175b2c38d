"""``obgw audit verify``: walk the consent audit hash chain in the gateway database."""

from __future__ import annotations

from typing import Any

from gateway.store.db import Database


async def verify(*, db: Database) -> dict[str, Any]:
    from consent import audit

    async with db.session() as session:
        report = await audit.verify_chain(session=session)
    return {
        "ok": report.ok,
        "events": report.events,
        "seq": report.seq,
        "reason": report.reason,
        "message": report.message,
    }
