"""Rate limits on the payment and funds routes (docs/architecture.md section 3 step 5, ``policies/rate-limits.yaml``):
customer-token calls spend the client's tier budget and the consent's budget, client-token GETs the tier budget
only; a throttled call is 429 with ``Retry-After`` (R/W API "429 (Too Many Requests)") and creates, executes and
records nothing; the PSD2 RTS Art. 36(5)(b) unattended 4-a-day rule is for account information only
(docs/obie-notes.md section 10). Each test runs the real rulebook with test-sized limits, given through ``Settings.policies_dir``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from consent.audit import EventType
from consent.models import ConsentEvent
from gateway.settings import Settings
from tests.helpers.payments import FUNDS_CONFIRMATIONS
from tests.helpers.payments import approved_funds_consent
from tests.helpers.payments import approved_payment
from tests.helpers.payments import concurrent_retries
from tests.helpers.payments import customer_auth
from tests.helpers.payments import order_body
from tests.helpers.payments import submit
from tests.helpers.rulebook import RATE_HEADERS
from tests.helpers.rulebook import sized_rulebook
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.payments.test_funds import cbpii_body
from tests.integration.payments.test_funds import cbpii_check
from tests.integration.payments.test_funds import funds_check
from tests.integration.payments.test_payment_orders import CURRENT
from tests.integration.payments.test_payment_orders import bank_db  # noqa: F401  (fixture)
from tests.integration.payments.test_payment_orders import bank_orders
from tests.integration.payments.test_payment_orders import consent_status
from tests.integration.payments.test_payment_orders import gateway_records


@pytest.fixture
def rulebook(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return sized_rulebook(tmp_path / "policies", **request.param)


@pytest.fixture
def settings(var_dir, live_bank, rulebook):  # type: ignore[no-untyped-def]  # noqa: F811
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank, policies_dir=rulebook)


def assert_throttled(response: httpx.Response, *, within: int, budget: str) -> None:
    """429 with Retry-After within the window, the RateLimit headers, and an OBErrorResponse1 naming the budget
    that is spent and when it resets."""
    assert response.status_code == 429, response.text
    assert response.headers.get("x-fapi-interaction-id")
    assert 0 < int(response.headers["retry-after"]) <= within
    assert RATE_HEADERS <= set(response.headers)
    error = response.json()["Errors"][0]
    assert error["ErrorCode"] == f"UK.OBGW.RateLimit.{budget.title()}"
    assert "resets in" in error["Message"]


async def client_get(tpp: Tpp, path: str) -> httpx.Response:
    return await tpp.call("GET", path, check=False)


# --------------------------------------------------------------------------- payment orders


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-submit": "1/minute"}}], indirect=True)
async def test_a_payment_order_past_the_tier_limit_is_429_with_retry_after_and_creates_nothing(
    tpp: Tpp, db, bank_db  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    first = await approved_payment(tpp, key="consent-1")
    second = await approved_payment(tpp, key="consent-2")

    created = await submit(tpp, first, key="order-1")
    assert created.status_code == 201, created.text
    assert created.headers["ratelimit-limit"] == "1" and created.headers["ratelimit-remaining"] == "0"

    refused = await submit(tpp, second, key="order-2", check=False)
    assert_throttled(refused, within=60, budget="tier")
    assert "payment-submit budget on the standard tier (1 per minute)" in refused.json()["Message"]
    # Nothing created by the refused call: the consent still Authorised, no bank order, no gateway record.
    assert await consent_status(db, second.consent_id) == "Authorised"
    assert await bank_orders(bank_db, second.consent_id) == []
    assert len(await bank_orders(bank_db, first.consent_id)) == 1
    assert await gateway_records(db, tpp.fapi.client_id) == 1


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-submit": "1/minute"}}], indirect=True)
async def test_the_tier_budget_is_per_client(tpp: Tpp, other_tpp: Tpp) -> None:
    mine = await approved_payment(tpp, key="consent-1")
    theirs = await approved_payment(other_tpp, key="consent-1")
    assert (await submit(tpp, mine, key="order-1")).status_code == 201
    assert (await submit(other_tpp, theirs, key="order-1")).status_code == 201


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-submit": "1/minute"}, "per_consent": "1/minute"}],
                         indirect=True)
async def test_replays_of_a_known_key_spend_no_budget_and_are_never_refused_by_it(tpp: Tpp, db, bank_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    approved = await approved_payment(tpp)
    first = await submit(tpp, approved, key="replayed")
    assert first.status_code == 201, first.text
    assert first.headers["ratelimit-remaining"] == "0"
    # R/W API "Idempotency": the retry answers the original outcome, though both budgets are spent.
    for _ in range(3):
        replay = await submit(tpp, approved, key="replayed")
        assert replay.status_code == 201 and replay.content == first.content
        assert replay.headers["ratelimit-limit"] == "1" and replay.headers["ratelimit-remaining"] == "0"
    # A new payment is a new submission: refused by the spent budget.
    other = await approved_payment(tpp, key="consent-2")
    assert_throttled(await submit(tpp, other, key="new-key", check=False), within=60, budget="tier")
    assert len(await bank_orders(bank_db, approved.consent_id)) == 1


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-submit": "1/minute"}}], indirect=True)
async def test_concurrent_retries_of_one_payment_all_answer_the_original(tpp: Tpp, bank_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    approved = await approved_payment(tpp)
    await concurrent_retries(tpp, approved, key="burst", count=20)
    assert len(await bank_orders(bank_db, approved.consent_id)) == 1


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-submit": "1/minute"}}], indirect=True)
async def test_a_first_call_refused_before_it_claimed_its_key_leaves_the_retry_counted(tpp: Tpp, bank_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    spent = await approved_payment(tpp, key="consent-1")
    assert (await submit(tpp, spent, key="order-1")).status_code == 201
    approved = await approved_payment(tpp, key="consent-2")
    # Refused by the budget, this key names no payment: retrying it is a new submission, refused again.
    for _ in range(2):
        assert_throttled(await submit(tpp, approved, key="order-2", check=False), within=60, budget="tier")
    assert await bank_orders(bank_db, approved.consent_id) == []


@pytest.mark.parametrize("rulebook", [{}], indirect=True)
async def test_an_error_after_the_budgets_were_counted_carries_their_headers(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    body = order_body(approved)
    body["Risk"] = {"PaymentContextCode": "BillPayment"}
    refused = await submit(tpp, approved, key="mismatch", body=body, check=False)
    assert refused.status_code == 400, refused.text
    assert RATE_HEADERS <= set(refused.headers)


# --------------------------------------------------------------------------- status reads (client token)


@pytest.mark.parametrize("rulebook", [{"classes": {"payment-status": "2/minute"}, "per_consent": "1/minute"}],
                         indirect=True)
async def test_payment_status_reads_spend_the_tier_budget_only(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved, key="status-1")
    assert created.status_code == 201, created.text
    path = f"{PISP}/domestic-payments/{created.json()['Data']['DomesticPaymentId']}"

    # The consent's budget ("1/minute") is spent by the order; the reads name no consent, only the tier counts.
    read = await client_get(tpp, path)
    assert read.status_code == 200, read.text
    assert RATE_HEADERS <= set(read.headers)
    assert read.headers["ratelimit-limit"] == "2" and read.headers["ratelimit-remaining"] == "1"
    details = await client_get(tpp, f"{path}/payment-details")
    assert details.status_code == 200, details.text
    assert details.headers["ratelimit-remaining"] == "0"
    assert_throttled(await client_get(tpp, path), within=60, budget="tier")


# --------------------------------------------------------------------------- funds confirmation


@pytest.mark.parametrize("rulebook", [{"per_consent": "2/minute"}], indirect=True)
async def test_funds_confirmation_on_a_payment_consent_is_limited_per_consent(tpp: Tpp) -> None:
    approved = await approved_payment(tpp, key="consent-1")
    other = await approved_payment(tpp, key="consent-2")
    for remaining in ("1", "0"):
        allowed = await funds_check(tpp, approved.consent_id, approved.access_token)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["ratelimit-remaining"] == remaining
    path = f"{PISP}/domestic-payment-consents/{approved.consent_id}/funds-confirmation"
    refused = await tpp.call("GET", path, authorized=False, check=False,
                             headers=customer_auth(tpp, approved.access_token, "GET", path))
    assert_throttled(refused, within=60, budget="consent")
    # The budget is the consent's, not the client's: another consent of the same TPP still answers.
    assert (await funds_check(tpp, other.consent_id, other.access_token)).status_code == 200


@pytest.mark.parametrize("rulebook", [{"per_consent": "100/minute"}], indirect=True)
async def test_unattended_payment_calls_are_not_held_to_the_ais_four_a_day_rule(tpp: Tpp) -> None:
    approved = await approved_payment(tpp)
    for _ in range(6):  # no x-fapi-customer-ip-address: the customer is not present
        response = await funds_check(tpp, approved.consent_id, approved.access_token)
        assert response.status_code == 200, response.text
        assert not any(name.startswith("x-obgw-unattended-") for name in response.headers)


@pytest.mark.parametrize("rulebook", [{"classes": {"funds-check": "1/minute"}}], indirect=True)
async def test_a_cbpii_check_past_the_limit_is_429_asks_the_bank_nothing_and_records_nothing(
    tpp: Tpp, db  # type: ignore[no-untyped-def]
) -> None:
    approved = await approved_funds_consent(tpp, account_id=CURRENT)
    allowed = await cbpii_check(tpp, approved.access_token, cbpii_body(approved.consent_id, "1.00"))
    assert allowed.status_code == 201, allowed.text
    assert allowed.headers["ratelimit-limit"] == "1" and allowed.headers["ratelimit-remaining"] == "0"

    refused = await tpp.call("POST", FUNDS_CONFIRMATIONS, body=cbpii_body(approved.consent_id, "2.00"),
                             authorized=False, check=False,
                             headers=customer_auth(tpp, approved.access_token, "POST", FUNDS_CONFIRMATIONS))
    assert_throttled(refused, within=60, budget="tier")
    async with db.session() as session:
        events = (await session.exec(select(ConsentEvent).where(ConsentEvent.consent_id == approved.consent_id))).all()
    assert [e.event for e in events].count(EventType.ACCESSED) == 1
