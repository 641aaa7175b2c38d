"""The loop of the gateway's periodic event jobs (docs/architecture.md section 7): the payment status watcher
and the reconfirmation notices run next to the delivery worker in every gateway process, each one round, then
its interval, until stopped; a failed round is logged and the next one tries again (the job never dies)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("obgw.events")


class PeriodicJob:
    name = "periodic job"

    def __init__(self, *, interval_ms: int) -> None:
        self.interval = interval_ms / 1000
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        raise NotImplementedError

    async def run(self) -> None:
        """Until ``stop``: one round, then the interval (or until stopped)."""
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # the database or the bank is away: log, try again next round
                log.exception("%s round failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)

    def stop(self) -> None:
        self._stopping.set()
