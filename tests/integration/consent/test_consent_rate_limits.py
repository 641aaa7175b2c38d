"""The consent endpoints spend the TPP's tier budget of rate class ``consent`` (policies/routes.yaml,
policies/rate-limits.yaml): every answer carries the ``RateLimit-*`` headers of that budget, and a call past it is
429 with Retry-After and an ``OBErrorResponse1`` naming the tier budget (R/W API "429 (Too Many Requests)"),
creating, reading or deleting nothing. Client-token calls name no consent, so no per-consent budget applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from consent.models import Consent
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.rulebook import RATE_HEADERS
from tests.helpers.rulebook import sized_rulebook
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import consent_count


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shipped rulebook, or (parametrized with a limit) a copy whose consent class has that limit."""
    limit: str | None = getattr(request, "param", None)
    if limit is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    policies = sized_rulebook(tmp_path / "policies", classes={"consent": limit})
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


async def test_shipped_default_counts_consent_calls_against_the_tier_budget(tpp: Tpp) -> None:
    # rate-limits.yaml, standard tier: consent "20/second;600/minute"; the headers show the tightest.
    created = await tpp.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    assert RATE_HEADERS <= set(created.headers)
    assert created.headers["ratelimit-limit"] == "20"
    consent_id = created.json()["Data"]["ConsentId"]
    read = await tpp.call("GET", f"{AISP}/{consent_id}")
    assert read.status_code == 200, read.text
    assert int(read.headers["ratelimit-remaining"]) < int(created.headers["ratelimit-remaining"])


@pytest.mark.parametrize("settings", ["2/minute"], indirect=True)
async def test_a_consent_call_past_the_tier_budget_is_429_and_changes_nothing(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    created = await tpp.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    assert (await tpp.call("GET", f"{AISP}/{consent_id}")).status_code == 200

    deleted = await tpp.call("DELETE", f"{AISP}/{consent_id}", check=False)
    assert deleted.status_code == 429, deleted.text
    assert 0 < int(deleted.headers["retry-after"]) <= 60
    assert RATE_HEADERS <= set(deleted.headers) and deleted.headers["ratelimit-remaining"] == "0"
    error = deleted.json()["Errors"][0]
    assert error["ErrorCode"] == "UK.OBGW.RateLimit.Tier" and "resets in" in error["Message"], error
    async with db.session() as session:
        consent = (await session.exec(select(Consent).where(Consent.consent_id == consent_id))).one()
    assert consent.status == "AwaitingAuthorisation"

    again = await tpp.create(AISP, account_access_body(), check=False)
    assert again.status_code == 429, again.text
    assert await consent_count(db, tpp.fapi.client_id) == 1


@pytest.mark.parametrize("settings", ["1/minute"], indirect=True)
async def test_the_consent_budget_is_each_tpps_own(tpp: Tpp, other_tpp: Tpp) -> None:
    assert (await tpp.create(AISP, account_access_body())).status_code == 201
    assert (await tpp.create(AISP, account_access_body(), check=False)).status_code == 429
    assert (await other_tpp.create(AISP, account_access_body())).status_code == 201


@pytest.mark.parametrize("settings", ["1/minute"], indirect=True)
async def test_a_refused_token_spends_no_budget(tpp: Tpp) -> None:
    unauthorised = await tpp.call("POST", AISP, body=account_access_body(), authorized=False, check=False)
    assert unauthorised.status_code == 401
    assert (await tpp.create(AISP, account_access_body())).status_code == 201
