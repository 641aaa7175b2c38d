"""The periodic job that tells each TPP, once per period, that an account-access consent is due for the UK
90-day reconfirmation (``consent.reconfirmation_notices``; docs/architecture.md section 7).

One per gateway process, next to the delivery worker (``create_app(start_event_worker=True)``), every
``OBGW_RECONFIRMATION_INTERVAL_MS``; replicas running it at once still announce each period once (the
compare-and-set in ``consent.reconfirmation_notices.announce_due``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from consent import reconfirmation_notices
from gateway.events.periodic import PeriodicJob
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.db import utcnow


class ReconfirmationNotices(PeriodicJob):
    name = "reconfirmation notices"

    def __init__(self, *, db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(interval_ms=settings.reconfirmation_interval_ms)
        self.db = db
        self.clock = clock

    async def run_once(self) -> int:
        async with self.db.session() as session:
            return len(await reconfirmation_notices.announce_due(session=session, now=self.clock()))
