"""The rate limits of the payment and funds routes (docs/architecture.md section 3 step 5,
``policies/rate-limits.yaml``): customer-token calls spend the client's tier budget and the consent's, client-token
calls the tier budget only, and an ``x-idempotency-key`` replay (R/W API "Idempotency") spends nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request

from gateway import errors
from gateway.contract.policies.rate_limits import RateLimits
from gateway.contract.policies.routes import RoutePolicy
from gateway.pipeline.ratelimit import RateLimiter
from gateway.pipeline.ratelimit import tier_of
from gateway.pipeline.ratelimit import tier_only
from gateway.security.access import AccessContext
from gateway.services import Services
from gateway.store.counters import storage_for
from gateway.store.oauth_tables import Client


@dataclass(frozen=True, kw_only=True)
class PaymentLimits:
    """The rate limits of the payment and funds routes: two limiters over one counter storage, so the tier
    budget of a rate class is one budget whichever of them counts it (in Redis: across replicas too)."""

    customer: RateLimiter
    client: RateLimiter
    # The customer-presence header the rulebook names (x-fapi-customer-ip-address, R/W API "Request Headers").
    presence_header: str
    # How long an x-idempotency-key stays a replay (the rulebook's lifetimes.idempotency_key).
    idempotency_window: timedelta

    @classmethod
    def create(
        cls, *, policy: RateLimits, redis_url: str, prefix: str, idempotency_window: timedelta
    ) -> PaymentLimits:
        storage = storage_for(redis_url, prefix=prefix)
        return cls(customer=RateLimiter(policy=policy, storage=storage),
                   client=RateLimiter(policy=tier_only(policy), storage=storage),
                   presence_header=policy.unattended.presence_header, idempotency_window=idempotency_window)

    @classmethod
    def from_services(cls, services: Services) -> PaymentLimits:
        settings = services.settings
        return cls.create(policy=services.policies.rate_limits, redis_url=settings.redis_url,
                          prefix=settings.redis_prefix, idempotency_window=services.policies.fapi.idempotency_window)

    async def customer_call(
        self, request: Request, *, access: AccessContext, route: RoutePolicy, counted: bool = True
    ) -> dict[str, str]:
        """Tier and per-consent budgets of a customer-token call; its ``RateLimit-*`` headers, or 429.
        ``counted=False`` (an idempotent replay) reads the budgets without spending them."""
        consent_id = access.token.consent_id
        if not consent_id:
            # tokens.require_customer_token already refuses such a token; never count it unkeyed.
            raise errors.ObError("A customer token without a consent reached the rate limit")  # fail closed: 500
        if counted:
            headers = await self.customer.check(
                client_id=access.client.client_id, tier=tier_of(access.client), route=route, consent_id=consent_id,
                account_id=None,
                # The real presence signal: the rulebook, not this module, decides which scopes it limits.
                customer_present=request.headers.get(self.presence_header) is not None,
            )
        else:
            headers = await self.customer.peek(client_id=access.client.client_id, tier=tier_of(access.client),
                                               route=route, consent_id=consent_id)
        request.state.rate_headers = headers  # on this call's answer, errors included (gateway.errors)
        return headers

    async def client_call(self, request: Request, *, client: Client, route: RoutePolicy) -> dict[str, str]:
        """The tier budget of a client-token call; its ``RateLimit-*`` headers, or 429."""
        if route.token != "client":
            raise ValueError(f"{route.operation_id} is not a client-token route")
        headers = await self.client.check(client_id=client.client_id, tier=tier_of(client), route=route,
                                          consent_id="", account_id=None, customer_present=False)
        request.state.rate_headers = headers
        return headers

    async def first_submission(self, *, client_id: str, key: str) -> bool:
        """Whether this is the first time (client, ``x-idempotency-key``) is seen within the idempotency window,
        atomically across concurrent calls and, in Redis, across replicas. Later calls with the key are
        replays, in flight or done, and are not counted against the submit budget."""
        return await self.customer.first_sighting(client_id=client_id, key=key, window=self.idempotency_window)

    async def forget_submission(self, *, client_id: str, key: str) -> None:
        """The first call with this key was refused before it claimed the key: its retry is a first call."""
        await self.customer.forget_sighting(client_id=client_id, key=key, window=self.idempotency_window)
