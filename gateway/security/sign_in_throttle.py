"""Bank sign-in throttle: failed attempts per username and per client address (docs/architecture.md section 3).

The limits come from ``policies/rate-limits.yaml`` ``sign_in`` and are counted in the same ``limits`` storage as
the API rate limits (in memory, or Redis when ``OBGW_REDIS_URL`` is set, so replicas share the counts). Only
failures count (OWASP Authentication Cheat Sheet, "Login Throttling"). Once a budget is spent, every attempt
for that username or from that address is refused, right password or not, with 429 and ``Retry-After``
(R/W API "429 (Too Many Requests)"). The refusal text is the same whether the username exists: it names only
the wait, so it cannot be used to enumerate customers.
"""

from __future__ import annotations

import math
import time
from typing import Final

from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import STRATEGIES
from starlette.requests import Request

from gateway.contract.policies.rate_limits import RateLimits
from gateway.errors import TooManyRequests
from gateway.settings import Settings
from gateway.store.counters import storage_for

_NAMESPACE: Final = "obgw-sign-in"


def refusal_message(*, retry_after: int) -> str:
    """The customer-safe text of a throttled sign-in: the wait, rounded up to whole minutes."""
    minutes = max(1, math.ceil(retry_after / 60))
    return f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


class SignInThrottled(TooManyRequests):
    """A sign-in refused because too many attempts failed; ``str()`` is the customer-safe message."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(refusal_message(retry_after=retry_after), retry_after=retry_after)
        self.retry_after = max(1, retry_after)


class SignInThrottle:
    def __init__(self, *, policy: RateLimits, storage: Storage) -> None:
        self._strategy = STRATEGIES[policy.strategy](storage)
        self._budgets: tuple[tuple[str, tuple[RateLimitItem, ...]], ...] = (
            ("username", policy.sign_in.per_username.items),
            ("address", policy.sign_in.per_address.items),
        )

    @classmethod
    def create(cls, *, policy: RateLimits, redis_url: str, prefix: str = "obgw:") -> SignInThrottle:
        return cls(policy=policy, storage=storage_for(redis_url, prefix=prefix))

    def _keys(self, *, username: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        values = {"username": username.strip().casefold(), "address": address}
        return [(item, (_NAMESPACE, kind, values[kind])) for kind, items in self._budgets for item in items]

    async def check(self, *, username: str, address: str) -> None:
        """Raise ``SignInThrottled`` when the username or the address has no failed attempts left."""
        waits = []
        for item, keys in self._keys(username=username, address=address):
            if not await self._strategy.test(item, *keys):
                stats = await self._strategy.get_window_stats(item, *keys)
                waits.append(math.ceil(stats.reset_time - time.time()))
        if waits:
            raise SignInThrottled(retry_after=max(waits))

    async def failed(self, *, username: str, address: str) -> None:
        """Count one failed attempt against the username and the address."""
        for item, keys in self._keys(username=username, address=address):
            await self._strategy.hit(item, *keys)


def client_address(request: Request, *, settings: Settings) -> str:
    """The address a sign-in came from: the TCP peer, or the last ``X-Forwarded-For`` hop when the peer is a
    configured proxy (``OBGW_TRUSTED_PROXIES``); a header from anyone else is ignored."""
    peer = request.client.host if request.client else ""
    if settings.is_trusted_proxy(peer):
        hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return peer
