"""Step 5 of the enforcement pipeline (docs/architecture.md section 3): rate limits from ``policies/rate-limits.yaml``.

Counted with ``limits`` (the storage layer slowapi uses): in memory by default, in Redis when
``OBGW_REDIS_URL`` is set so that every replica shares the counters (docs/architecture.md section 4). Three budgets, in
this order, every one of which must hold:

1. per client (TPP) tier and rate class;
2. per consent, whatever the tier;
3. PSD2 RTS Art. 36(5)(b) (docs/obie-notes.md section 10): without the customer present, signalled by the absence of
   ``x-fapi-customer-ip-address`` (R/W API "Request Headers"), at most four accesses in 24 hours per consent,
   account and endpoint.

A refusal is 429 with ``Retry-After`` in seconds (R/W API "429 (Too Many Requests)": the ASPSP must use 429 when
it throttles and should send Retry-After). Successful calls carry the remaining budget: ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (IETF draft "RateLimit header fields for HTTP", for the tightest
of 1 and 2) and ``x-obgw-unattended-limit``/``-remaining``/``-reset`` for 3.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Final

from limits import RateLimitItem
from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import STRATEGIES
from limits.aio.strategies import RateLimiter as LimitsStrategy

from gateway.contract.policies.checking import Limit
from gateway.contract.policies.rate_limits import RateLimits
from gateway.contract.policies.routes import RoutePolicy
from gateway.errors import TooManyRequests
from gateway.store.counters import storage_for
from gateway.store.oauth_tables import Client

UNATTENDED_PREFIX: Final = "x-obgw-unattended-"
_ALL_ACCOUNTS: Final = "*"


def _sighting(window: timedelta) -> RateLimitItem:
    """Once per ``window``."""
    return RateLimitItemPerSecond(1, max(1, int(window.total_seconds())))


@dataclass(frozen=True, kw_only=True)
class _Counted:
    item: RateLimitItem
    keys: tuple[str, ...]
    # Which budget this counter is (tier, consent, unattended) and how a TPP reads it, for the 429 body.
    budget: str
    described: str


def tier_of(client: Client) -> str | None:
    """The client's rate tier. Clients carry no tier yet, so every client is on ``default_tier``; a tier taken
    from client-supplied registration metadata would let a TPP choose its own budget, so none is read."""
    return None


def tier_only(policy: RateLimits) -> RateLimits:
    """The rulebook without its per-consent budget, for client-token calls, which name no consent: only the tier
    is counted (an empty limit adds no counter; the tier lookup still fails closed on a gap)."""
    return replace(policy, per_consent=Limit(text="", items=()))


class RateLimiter:
    def __init__(self, *, policy: RateLimits, storage: Storage) -> None:
        self._policy = policy
        self._storage = storage
        self._strategy: LimitsStrategy = STRATEGIES[policy.strategy](storage)

    @classmethod
    def create(cls, *, policy: RateLimits, redis_url: str, prefix: str = "obgw:") -> RateLimiter:
        return cls(policy=policy, storage=storage_for(redis_url, prefix=prefix))

    async def _consume(self, counted: list[_Counted], *, prefix: str, counted_so_far: dict[str, str]) -> None:
        for entry in counted:
            if not await self._strategy.hit(entry.item, *entry.keys):
                stats = await self._strategy.get_window_stats(entry.item, *entry.keys)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                resets_at = datetime.fromtimestamp(time.time() + retry_after, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                refusal = TooManyRequests(
                    f"Rate limit: {entry.described} ({entry.item.amount} per {_period(entry.item)}) is spent; "
                    f"it resets in {retry_after} s, at {resets_at}",
                    retry_after=retry_after, budget=entry.budget,
                )
                refusal.headers.update(counted_so_far)
                refusal.headers.update(
                    {
                        f"{prefix}limit": str(entry.item.amount),
                        f"{prefix}remaining": "0",
                        f"{prefix}reset": str(retry_after),
                    }
                )
                raise refusal

    async def _headers(self, counted: list[_Counted], *, prefix: str) -> dict[str, str]:
        tightest: tuple[int, int, float] | None = None
        for entry in counted:
            stats = await self._strategy.get_window_stats(entry.item, *entry.keys)
            candidate = (stats.remaining, entry.item.amount, stats.reset_time)
            if tightest is None or candidate[0] < tightest[0]:
                tightest = candidate
        if tightest is None:
            return {}
        remaining, amount, reset = tightest
        return {
            f"{prefix}limit": str(amount),
            f"{prefix}remaining": str(max(0, remaining)),
            f"{prefix}reset": str(max(0, math.ceil(reset - time.time()))),
        }

    async def first_sighting(self, *, client_id: str, key: str, window: timedelta) -> bool:
        """True the first time (client, idempotency key) is seen within ``window`` (the rulebook's
        ``lifetimes.idempotency_key``, 24 h as shipped), atomically: one hit of a once-per-window counter in the same
        storage as the budgets."""
        return await self._strategy.hit(_sighting(window), "obgw", "idempotency", client_id, key)

    async def forget_sighting(self, *, client_id: str, key: str, window: timedelta) -> None:
        await self._strategy.clear(_sighting(window), "obgw", "idempotency", client_id, key)

    @staticmethod
    def _counted(limit: Limit, *keys: str, budget: str, described: str) -> list[_Counted]:
        return [_Counted(item=item, keys=("obgw", *keys), budget=budget, described=described) for item in limit.items]

    def _budgets(
        self, *, client_id: str, tier: str | None, route: RoutePolicy, consent_id: str
    ) -> list[_Counted]:
        try:
            tier_limit = self._policy.for_client(tier=tier, rate_class=route.rate_class)
        except KeyError:
            # Fail closed: a client on a tier (or a route in a class) the rulebook does not define is refused.
            raise TooManyRequests("Rate limit: no budget is defined for this client", retry_after=60,
                                  budget="tier") from None
        tier_name = tier or self._policy.default_tier
        budget = self._counted(tier_limit, "client", client_id, route.rate_class, budget="tier",
                               described=f"the client's {route.rate_class} budget on the {tier_name} tier")
        budget += self._counted(self._policy.per_consent, "consent", consent_id, budget="consent",
                                described="the budget of one consent")
        return budget

    async def peek(self, *, client_id: str, tier: str | None, route: RoutePolicy, consent_id: str) -> dict[str, str]:
        """The ``RateLimit-*`` headers of a call that is not counted (an idempotent replay), counting nothing."""
        return await self._headers(
            self._budgets(client_id=client_id, tier=tier, route=route, consent_id=consent_id), prefix="ratelimit-"
        )

    async def check(
        self,
        *,
        client_id: str,
        tier: str | None,
        route: RoutePolicy,
        consent_id: str,
        account_id: str | None,
        customer_present: bool,
    ) -> dict[str, str]:
        """Count this call against every budget that applies; the response headers, or ``TooManyRequests``
        naming the budget that is spent (with the headers of every budget counted, on the 429 too)."""
        budget = self._budgets(client_id=client_id, tier=tier, route=route, consent_id=consent_id)
        await self._consume(budget, prefix="ratelimit-", counted_so_far={})
        headers = await self._headers(budget, prefix="ratelimit-")

        rule = self._policy.unattended
        if not customer_present and route.token == "customer" and not rule.scopes.isdisjoint(route.scopes):
            parts = {
                "client": client_id,
                "consent": consent_id,
                "account": account_id or _ALL_ACCOUNTS,
                "operation": route.operation_id,
            }
            unattended = self._counted(
                rule.limit, "unattended", *(f"{k}={parts[k]}" for k in rule.per), budget="unattended",
                described=f"the unattended budget (no {rule.presence_header}: PSD2 RTS Art. 36(5)(b)) of this "
                          + ", ".join(rule.per),
            )
            await self._consume(unattended, prefix=UNATTENDED_PREFIX, counted_so_far=headers)
            headers.update(await self._headers(unattended, prefix=UNATTENDED_PREFIX))
        return headers


def _period(item: RateLimitItem) -> str:
    """``RateLimitItem`` period in words: "second", "15 minutes", "day"."""
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
