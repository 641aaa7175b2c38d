"""Rate limits from policies/rate-limits.yaml: tier, per consent, and PSD2 RTS Art. 36(5)(b) unattended access."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gateway.errors import TooManyRequests
from gateway.pipeline.ratelimit import RateLimiter
from gateway.store.counters import storage_for


@pytest.fixture
def limiter(contract) -> RateLimiter:  # type: ignore[no-untyped-def]
    _, policies = contract
    return RateLimiter.create(policy=policies.rate_limits, redis_url="")


@pytest.fixture
def balances(contract):  # type: ignore[no-untyped-def]
    _, policies = contract
    return policies.by_operation_id["GetAccountsAccountIdBalances"]


async def _call(limiter: RateLimiter, route, *, consent: str = "c1", account: str = "a1", present: bool = False,
                client: str = "tpp"):  # type: ignore[no-untyped-def]
    return await limiter.check(client_id=client, tier=None, route=route, consent_id=consent, account_id=account,
                               customer_present=present)


async def test_unattended_access_is_four_per_day_then_429_with_retry_after(limiter: RateLimiter, balances) -> None:  # type: ignore[no-untyped-def]
    remaining = [(await _call(limiter, balances))["x-obgw-unattended-remaining"] for _ in range(4)]
    assert remaining == ["3", "2", "1", "0"]
    with pytest.raises(TooManyRequests) as caught:
        await _call(limiter, balances)
    assert caught.value.status_code == 429
    assert 0 < int(caught.value.headers["Retry-After"]) <= 86400
    assert caught.value.headers["x-obgw-unattended-remaining"] == "0"


async def test_unattended_budget_is_per_consent_account_and_endpoint(limiter: RateLimiter, balances, contract) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        await _call(limiter, balances)
    await _call(limiter, balances, account="a2")
    await _call(limiter, balances, consent="c2")
    _, policies = contract
    await _call(limiter, policies.by_operation_id["GetAccountsAccountIdTransactions"])


async def test_customer_present_calls_do_not_spend_the_unattended_budget(limiter: RateLimiter, balances) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        headers = await _call(limiter, balances, present=True)
        assert "x-obgw-unattended-remaining" not in headers
    assert (await _call(limiter, balances))["x-obgw-unattended-remaining"] == "3"


async def test_per_consent_limit_refuses_with_429_naming_the_budget_and_its_reset(limiter: RateLimiter, balances, contract) -> None:  # type: ignore[no-untyped-def]
    # The shipped per_consent budget: the call after its per-second allowance is refused, whatever account it names.
    _, policies = contract
    per_second = policies.rate_limits.per_consent.items[0]
    assert per_second.GRANULARITY.name == "second"
    for n in range(per_second.amount):
        headers = await _call(limiter, balances, account=f"a{n % 3}", present=True)
        assert set(headers) >= {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}
    with pytest.raises(TooManyRequests) as caught:
        await _call(limiter, balances, account="a9", present=True)
    refusal = caught.value
    assert refusal.status_code == 429 and int(refusal.headers["Retry-After"]) >= 1
    assert refusal.has_body and refusal.budget == "consent"
    assert refusal.errors[0].code == "UK.OBGW.RateLimit.Consent"
    assert f"budget of one consent ({per_second.amount} per second)" in refusal.message
    assert "resets in 1 s, at 20" in refusal.message
    assert refusal.headers["ratelimit-remaining"] == "0"


async def test_a_customer_present_screen_of_three_accounts_fits_the_shipped_budgets(limiter: RateLimiter, contract) -> None:  # type: ignore[no-untyped-def]
    # rate-limits.yaml traffic model: /accounts, then balances, transactions and standing orders of three
    # accounts, all within one second on one consent, from a customer-present app.
    _, policies = contract
    routes = policies.by_operation_id
    await _call(limiter, routes["GetAccounts"], account="", present=True)
    for account in ("a1", "a2", "a3"):
        for operation in ("GetAccountsAccountIdBalances", "GetAccountsAccountIdTransactions",
                          "GetAccountsAccountIdStandingOrders"):
            await _call(limiter, routes[operation], account=account, present=True)


async def test_a_parallel_nightly_refresh_of_three_accounts_fits_the_shipped_budgets(limiter: RateLimiter, contract) -> None:  # type: ignore[no-untyped-def]
    # rate-limits.yaml traffic model: 3 accounts x 8 endpoints, unattended, fired together.
    _, policies = contract
    per_account = [r for r in policies.by_operation_id.values()
                   if r.api == "accounts" and r.account_scoped and r.token == "customer"][:8]
    assert len(per_account) == 8
    await asyncio.gather(*(_call(limiter, route, account=account)
                           for account in ("a1", "a2", "a3") for route in per_account))


async def test_the_unattended_refusal_names_its_budget_and_keeps_the_tier_headers(limiter: RateLimiter, balances) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        await _call(limiter, balances)
    with pytest.raises(TooManyRequests) as caught:
        await _call(limiter, balances)
    assert caught.value.budget == "unattended"
    assert "x-fapi-customer-ip-address" in caught.value.message and "PSD2 RTS Art. 36(5)(b)" in caught.value.message
    assert {"ratelimit-limit", "ratelimit-remaining", "x-obgw-unattended-remaining"} <= set(caught.value.headers)


async def test_the_tier_refusal_names_the_tier_and_the_rate_class(contract, balances) -> None:  # type: ignore[no-untyped-def]
    _, policies = contract
    limiter = RateLimiter.create(policy=policies.rate_limits, redis_url="")
    tier = policies.rate_limits.for_client(tier=None, rate_class="account-read").items[0]
    with pytest.raises(TooManyRequests) as caught:
        # One consent per call: only the client's tier budget is shared.
        for n in range(tier.amount + 1):
            await _call(limiter, balances, consent=f"c{n}", present=True)
    assert caught.value.budget == "tier"
    assert "account-read budget on the standard tier" in caught.value.message


async def test_a_replay_reads_the_budgets_without_spending_them(limiter: RateLimiter, balances) -> None:  # type: ignore[no-untyped-def]
    spent = await _call(limiter, balances, present=True)
    peeked = await limiter.peek(client_id="tpp", tier=None, route=balances, consent_id="c1")
    assert peeked["ratelimit-remaining"] == spent["ratelimit-remaining"]


async def test_an_idempotency_key_is_seen_first_once_until_forgotten(limiter: RateLimiter) -> None:
    day = timedelta(hours=24)
    assert await limiter.first_sighting(client_id="tpp", key="k1", window=day)
    assert not await limiter.first_sighting(client_id="tpp", key="k1", window=day)
    assert await limiter.first_sighting(client_id="other", key="k1", window=day)
    await limiter.forget_sighting(client_id="tpp", key="k1", window=day)
    assert await limiter.first_sighting(client_id="tpp", key="k1", window=day)


async def test_client_on_a_tier_the_rulebook_does_not_define_is_refused(limiter: RateLimiter, balances) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TooManyRequests) as caught:
        await limiter.check(client_id="tpp", tier="platinum", route=balances, consent_id="c", account_id="a",
                            customer_present=True)
    assert caught.value.status_code == 429


def test_redis_url_must_be_a_redis_url() -> None:
    with pytest.raises(ValueError, match="redis"):
        storage_for("http://127.0.0.1:6379")



async def test_unattended_budget_in_redis_is_shared_by_two_limiters(contract, balances) -> None:  # type: ignore[no-untyped-def]
    # Two replicas are two limiters on one Redis: the four-a-day budget is counted once across both.
    import os
    import uuid

    url = os.environ.get("OBGW_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("OBGW_TEST_REDIS_URL is required in CI")
        pytest.skip("set OBGW_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run against Redis")
    _, policies = contract
    prefix = f"obgw-test-{uuid.uuid4().hex[:8]}:"
    a = RateLimiter.create(policy=policies.rate_limits, redis_url=url, prefix=prefix)
    b = RateLimiter.create(policy=policies.rate_limits, redis_url=url, prefix=prefix)
    consent = f"c-{uuid.uuid4().hex[:8]}"
    for limiter in (a, b, a, b):
        await _call(limiter, balances, consent=consent)
    with pytest.raises(TooManyRequests):
        await _call(b, balances, consent=consent)
    import redis.asyncio as redis

    r = redis.from_url(url)
    keys = [k async for k in r.scan_iter(match=f"{prefix}*")]
    assert keys, "counters live under the run's key prefix"
    await r.delete(*keys)
    await r.aclose()
