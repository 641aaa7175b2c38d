"""The policies we ship load, cover every operation we publish, and say what docs/obie-notes.md sections 2, 4, 5 and 10 say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.contract.policies.checking import PolicyError
from gateway.contract.policies.loader import Policies
from gateway.contract.policies.routes import ais_permissions
from gateway.contract.specs import OpenApiSpecs
from gateway.settings import Settings

AISP = "/open-banking/v3.1/aisp"
PISP = "/open-banking/v3.1/pisp"
CBPII = "/open-banking/v3.1/cbpii"


async def test_every_published_operation_has_exactly_one_policy(
    specs: OpenApiSpecs, policies: Policies
) -> None:
    published = {op.key for op in specs.operations()}
    assert set(policies.routes) == published
    # docs/obie-notes.md section 2.1 (29 AIS operations), 2.2 domestic consents and orders (16), 2.3 (4).
    assert len(published) == 61  # 49 R/W API operations, the seven VRP ones and the five Events API ones


async def test_the_21_obie_ais_permissions_come_from_the_account_info_document(specs: OpenApiSpecs) -> None:
    names = ais_permissions(specs)
    assert len(names) == 21
    assert {"ReadAccountsBasic", "ReadPAN", "ReadPartyPSU", "ReadTransactionsDebits"} <= names


async def test_token_kind_follows_the_obie_security_scheme(specs: OpenApiSpecs, policies: Policies) -> None:
    corrected = {"domesticVrpPost", "domesticVrpConsentsFundsConfirmation"}
    for op in specs.operations():
        expected = "client" if op.security_scheme == "TPPOAuth2Security" else "customer"
        if op.operation_id in corrected:
            # The VRP documents declare TPPOAuth2Security everywhere; the VRP specification's endpoint tables give
            # these two the customer's authorization-code token (docs/obie-notes-vrp-events.md section 5).
            assert op.security_scheme == "TPPOAuth2Security"
            expected = "customer"
        assert policies.for_operation(op).token == expected, op.operation_id


async def test_transactions_need_basic_or_detail_and_credits_or_debits(policies: Policies) -> None:
    # AISP profile "Permissions": ReadTransactionsBasic/Detail and ReadTransactionsCredits and/or Debits.
    for path in (
        "/transactions",
        "/accounts/{AccountId}/transactions",
        "/accounts/{AccountId}/statements/{StatementId}/transactions",
    ):
        rule = policies.route("GET", AISP + path)
        assert rule is not None
        assert not rule.permits({"ReadAccountsBasic", "ReadTransactionsBasic"})
        assert not rule.permits({"ReadTransactionsCredits", "ReadTransactionsDebits"})
        assert rule.permits({"ReadTransactionsBasic", "ReadTransactionsCredits"})
        assert rule.permits({"ReadTransactionsDetail", "ReadTransactionsDebits"})


async def test_statement_file_needs_statements_detail(policies: Policies) -> None:
    rule = policies.route("GET", AISP + "/accounts/{AccountId}/statements/{StatementId}/file")
    assert rule is not None
    assert not rule.permits({"ReadStatementsBasic"})
    assert rule.permits({"ReadStatementsDetail"})


async def test_own_party_needs_read_party_psu_and_account_party_needs_read_party(policies: Policies) -> None:
    own = policies.route("GET", AISP + "/party")
    account = policies.route("GET", AISP + "/accounts/{AccountId}/party")
    assert own is not None and account is not None
    assert own.permits({"ReadPartyPSU"}) and not own.permits({"ReadParty"})
    assert account.permits({"ReadParty"}) and not account.permits({"ReadPartyPSU"})


async def test_accounts_need_accounts_basic_or_detail(policies: Policies) -> None:
    rule = policies.route("get", AISP + "/accounts")
    assert rule is not None
    assert rule.permits({"ReadAccountsDetail"})
    assert not rule.permits({"ReadBalances"})


async def test_account_scoped_routes_are_exactly_those_with_an_account_id(policies: Policies) -> None:
    for (_, path), rule in policies.routes.items():
        assert rule.account_scoped == ("{AccountId}" in path), path


async def test_payment_posts_are_signed_both_ways_and_idempotent(policies: Policies) -> None:
    # docs/obie-notes.md section 2.2: every consent and payment-order POST needs x-jws-signature and x-idempotency-key, and
    # every PIS response is signed.
    pis = [rule for rule in policies.routes.values() if rule.api == "payments"]
    assert len(pis) == 16
    for rule in pis:
        post = rule.method == "POST"
        assert (rule.signed_request, rule.idempotent, rule.signed_response) == (post, post, True), rule.path


async def test_ais_and_cbpii_use_no_signing_and_no_idempotency_keys(policies: Policies) -> None:
    # docs/obie-notes.md section 2.1 and 2.3: "No AIS endpoint uses message signing or idempotency keys"; CBPII likewise.
    for rule in policies.routes.values():
        if rule.api in ("accounts", "funds"):
            assert not (rule.signed_request or rule.signed_response or rule.idempotent), rule.path


async def test_consent_funds_confirmation_and_payment_orders_need_a_customer_token(
    policies: Policies,
) -> None:
    for method, path in (
        ("GET", PISP + "/domestic-payment-consents/{ConsentId}/funds-confirmation"),
        ("POST", PISP + "/domestic-payments"),
        ("POST", CBPII + "/funds-confirmations"),
    ):
        rule = policies.route(method, path)
        assert rule is not None and rule.token == "customer", path
    status = policies.route("GET", PISP + "/domestic-payments/{DomesticPaymentId}")
    assert status is not None and status.token == "client"


async def test_only_ais_customer_routes_carry_permissions(policies: Policies) -> None:
    for rule in policies.routes.values():
        gated = rule.api == "accounts" and rule.token == "customer"
        assert bool(rule.permissions) == gated, rule.path


async def test_unattended_access_is_four_per_day_per_consent_account_and_endpoint(policies: Policies) -> None:
    rule = policies.rate_limits.unattended
    assert rule.limit.text == "4/day"
    assert [(item.amount, item.GRANULARITY.name) for item in rule.limit.items] == [(4, "day")]
    assert rule.per == ("consent", "account", "operation")
    assert rule.presence_header == "x-fapi-customer-ip-address"
    assert rule.scopes == frozenset({"accounts"})
    # A rolling 24-hour period, not a calendar day (RTS Art. 36(5)(b)).
    assert policies.rate_limits.strategy == "moving-window"


async def test_every_tier_limits_every_rate_class(policies: Policies) -> None:
    limits = policies.rate_limits
    assert set(limits.tiers) == {"sandbox", "standard", "premium"}
    for tier in limits.tiers:
        for rate_class in limits.classes:
            assert limits.for_client(tier=tier, rate_class=rate_class).items
    assert limits.for_client(tier=None, rate_class="account-read").text == "50/second;1000/minute"
    assert {rule.rate_class for rule in policies.routes.values()} <= limits.classes


async def test_an_unknown_tier_has_no_limits_rather_than_no_limit(policies: Policies) -> None:
    with pytest.raises(KeyError):
        policies.rate_limits.for_client(tier="platinum", rate_class="account-read")


async def test_fapi_policy_allows_only_fapi_algorithms(policies: Policies) -> None:
    for use, algorithms in policies.fapi.algorithms.items():
        assert set(algorithms) <= {"PS256", "ES256", "EdDSA"}, use
    assert policies.fapi.algorithms["message_signature"] == ("PS256",)
    assert (policies.fapi.clock_skew_ahead, policies.fapi.max_proof_age) == (10, 60)
    assert policies.fapi.lifetimes["authorization_code"] <= 60


async def test_the_shipped_idempotency_window_is_24_hours(policies: Policies) -> None:
    # OBIE R/W API profile, "Idempotency": a key is a replay within the preceding 24 hours.
    assert policies.fapi.idempotency_window == timedelta(hours=24)


async def test_default_settings_fit_the_fapi_policy(policies: Policies) -> None:
    policies.fapi.check_settings(Settings())


@pytest.mark.parametrize(
    ("setting", "value"),
    [("code_lifetime", 61), ("par_lifetime", 600), ("access_token_lifetime", 301), ("id_token_lifetime", 301),
     ("refresh_token_lifetime", 7776001)],
)
async def test_settings_looser_than_the_fapi_policy_are_refused(
    policies: Policies, setting: str, value: int
) -> None:
    with pytest.raises(PolicyError, match=f"OBGW_{setting.upper()}={value} exceeds"):
        policies.fapi.check_settings(Settings(**{setting: value}))  # type: ignore[arg-type]


async def test_route_lookup_is_by_method_and_full_template(specs: OpenApiSpecs, policies: Policies) -> None:
    match = specs.find("GET", AISP + "/accounts/acc-1/balances")
    assert match is not None
    rule = policies.for_operation(match.operation)
    assert rule.operation_id == "GetAccountsAccountIdBalances"
    assert rule.permits({"ReadBalances"})
    assert policies.route("POST", AISP + "/accounts/{AccountId}/balances") is None


async def test_routes_yaml_and_the_consent_vocabulary_agree_on_every_ais_endpoint(policies: Policies) -> None:
    # Two places state the AISP profile "Permissions" table: the rulebook the pipeline enforces and the consent
    # domain's vocabulary. They must never drift apart.
    from consent.permissions import ENDPOINT_PERMISSIONS

    ours = {
        rule.path.removeprefix(AISP): {
            frozenset(str(p) for p in alternatives) for alternatives in rule.permissions
        }
        for rule in policies.routes.values()
        if rule.permissions
    }
    theirs = {
        path: {frozenset(str(p) for p in alternatives) for alternatives in requirement}
        for path, requirement in ENDPOINT_PERMISSIONS.items()
    }
    assert ours == theirs


async def test_an_aisp_a_pisp_or_a_cbpii_may_call_the_events_operations(policies: Policies) -> None:
    """events-openapi.yaml lists accounts, payments and fundsconfirmations on every operation: any one will do."""
    events = [rule for rule in policies.routes.values() if rule.api == "events"]
    assert len(events) == 5
    for rule in events:
        assert rule.scopes == ("accounts", "payments", "fundsconfirmations"), rule.operation_id
    assert all(len(rule.scopes) == 1 for rule in policies.routes.values() if rule.api != "events")
