"""Route resolution prepared at start-up (R/W API "HTTP Status Codes": 404 unknown path, 405 wrong method)."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.errors import MethodNotAllowed
from gateway.errors import NotFound
from gateway.pipeline.routing import RouteTable

BASE = "/open-banking/v3.1/aisp"


@pytest.fixture(scope="module")
def table(contract) -> RouteTable:  # type: ignore[no-untyped-def]
    specs, policies = contract
    return RouteTable.build(specs=specs, policies=policies)


def test_every_ais_customer_operation_of_the_rulebook_is_prepared(table: RouteTable, contract) -> None:  # type: ignore[no-untyped-def]
    _, policies = contract
    expected = {p.operation_id for p in policies.routes.values() if p.api == "accounts" and p.token == "customer"}
    assert {r.policy.operation_id for r in table.by_key.values()} == expected
    assert len(expected) == 26


def test_account_path_resolves_to_its_policy_endpoint_and_account(table: RouteTable) -> None:
    match = table.match(method="GET", path=f"{BASE}/accounts/acc-9/transactions")
    assert match.policy.operation_id == "GetAccountsAccountIdTransactions"
    assert match.route.endpoint == "/accounts/{AccountId}/transactions"
    assert match.route.resource == "transactions"
    assert match.account_id == "acc-9"
    assert match.sub_path == "/accounts/acc-9/transactions"


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/accounts", "accounts"), ("/balances", "balances"), ("/party", "party"),
        ("/accounts/a/parties", "parties"), ("/accounts/a/product", "products"),
        ("/accounts/a/statements/s", "statements"), ("/accounts/a/statements/s/transactions", "transactions"),
        ("/accounts/a/statements/s/file", "statement-file"),
    ],
)
def test_resources_are_named_for_shaping(table: RouteTable, path: str, resource: str) -> None:
    assert table.match(method="GET", path=BASE + path).route.resource == resource


def test_unknown_path_is_404(table: RouteTable) -> None:
    with pytest.raises(NotFound) as caught:
        table.match(method="GET", path=f"{BASE}/accounts/a/secrets")
    assert caught.value.status_code == 404 and not caught.value.has_body


def test_wrong_method_is_405(table: RouteTable) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        table.match(method="POST", path=f"{BASE}/accounts")
    assert caught.value.status_code == 405 and not caught.value.has_body


def test_client_token_consent_endpoint_is_not_served_by_the_resource_pipeline(table: RouteTable) -> None:
    with pytest.raises(NotFound):
        table.match(method="GET", path=f"{BASE}/account-access-consents/aac-1")


def test_the_account_checked_against_the_consent_comes_from_the_account_scoped_flag(contract) -> None:  # type: ignore[no-untyped-def]
    """The loader keeps ``account_scoped`` equal to "the path has {AccountId}" (policies/routes.yaml); the pipeline
    reads the flag, not the path: a rule without it names no account for the consent check."""
    specs, policies = contract
    key = ("GET", f"{BASE}/accounts/{{AccountId}}/transactions")
    unscoped = dataclasses.replace(policies.routes[key], account_scoped=False)
    changed = dataclasses.replace(policies, routes={**policies.routes, key: unscoped})
    table = RouteTable.build(specs=specs, policies=changed)
    assert table.match(method="GET", path=f"{BASE}/accounts/acc-9/transactions").account_id is None
    shipped = RouteTable.build(specs=specs, policies=policies)
    assert shipped.match(method="GET", path=f"{BASE}/accounts/acc-9/transactions").account_id == "acc-9"
