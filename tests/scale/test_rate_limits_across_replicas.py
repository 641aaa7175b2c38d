"""Rate-limit counters shared by every replica through one Redis (docs/architecture.md section 4): the PSD2 RTS Art.
36(5)(b) budget of four unattended accesses a day per consent, account and endpoint (docs/obie-notes.md section 10; no
``x-fapi-customer-ip-address``, R/W API "Request Headers") is one budget whichever replica counts it, and the
fifth call is 429 with ``Retry-After`` on either (R/W API "429 (Too Many Requests)")."""

from __future__ import annotations

import asyncio

import httpx

from tests.scale.conftest import Replicas
from tests.scale.journey import Journey
from tests.scale.journey import run_journey

AIS = "/open-banking/v3.1/aisp"
PRESENT = {"x-fapi-customer-ip-address": "10.0.0.1"}
# Calls are spaced so that they count against the daily rule only, whatever the per-second budgets.
SPACING = 0.3


async def _get(replica: httpx.AsyncClient, journey: Journey, path: str, **headers: str) -> httpx.Response:
    return await replica.get(path, headers={
        "Authorization": f"DPoP {journey.access_token}",
        "DPoP": journey.fapi.dpop("GET", path, access_token=journey.access_token), **headers,
    })  # fmt: skip


async def test_the_unattended_four_a_day_budget_is_counted_across_both_replicas(two_replicas: Replicas) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        journey = await run_journey(a, sandbox, issuer=two_replicas.issuer)
        # With the customer present: spends no unattended budget, and names the consented account.
        accounts = await _get(b, journey, f"{AIS}/accounts", **PRESENT)
        assert accounts.status_code == 200, accounts.text
        assert "x-obgw-unattended-remaining" not in accounts.headers
        account_id = accounts.json()["Data"]["Account"][0]["AccountId"]
        path = f"{AIS}/accounts/{account_id}/balances"

        remaining = []
        for replica in (a, b, a, b):
            await asyncio.sleep(SPACING)
            response = await _get(replica, journey, path)
            assert response.status_code == 200, response.text
            remaining.append(response.headers["x-obgw-unattended-remaining"])
        assert remaining == ["3", "2", "1", "0"]

        for replica in (a, b):
            await asyncio.sleep(SPACING)
            refused = await _get(replica, journey, path)
            assert refused.status_code == 429, refused.text
            assert refused.json()["Errors"][0]["ErrorCode"] == "UK.OBGW.RateLimit.Unattended"
            assert 0 < int(refused.headers["retry-after"]) <= 86400
            assert refused.headers["x-obgw-unattended-remaining"] == "0"

        # The same consent with the customer present is still served, on both replicas.
        for replica in (a, b):
            await asyncio.sleep(SPACING)
            present = await _get(replica, journey, path, **PRESENT)
            assert present.status_code == 200, present.text
