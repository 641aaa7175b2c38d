"""``obgw audit verify``: walk the consent audit hash chain in the gateway database."""

from __future__ import annotations

from typing import Any

from gateway.db import Database
from gateway.settings import Settings


async def verify(settings: Settings) -> dict[str, Any]:
    from consent import audit

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            report = await audit.verify_chain(session=session)
    finally:
        await db.dispose()
    return {
        "ok": report.ok,
        "events": report.events,
        "seq": report.seq,
        "reason": report.reason,
        "message": report.message,
    }
