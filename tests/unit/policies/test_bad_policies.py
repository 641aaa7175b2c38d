"""Each kind of broken policy is refused at start-up with a message naming the file, the entry and the rule.

Every case starts from a copy of the shipped policies, breaks one thing, and expects ``PolicyError``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.contract.policies.checking import PolicyError
from gateway.contract.policies.loader import load_policies
from gateway.contract.specs import OpenApiSpecs

from .conftest import POLICIES_DIR

Doc = dict[str, Any]


def _route(doc: Doc, operation: str) -> Doc:
    for entry in doc["routes"]:
        if entry.get("operation") == operation:
            return entry  # type: ignore[no-any-return]
    raise AssertionError(operation)


def _broken(tmp_path: Path, file: str, change: Callable[[Doc], None]) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    doc = yaml.safe_load((target / file).read_text())
    change(doc)
    (target / file).write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _on_route(operation: str, change: Callable[[Doc], None]) -> Callable[[Doc], None]:
    return lambda doc: change(_route(doc, operation))


def _add(key: str, value: Any) -> Callable[[Doc], None]:
    return lambda entry: entry.__setitem__(key, value)


def _drop(key: str) -> Callable[[Doc], None]:
    return lambda entry: entry.pop(key)


def _remove_route(operation: str) -> Callable[[Doc], None]:
    return lambda doc: doc["routes"].remove(_route(doc, operation))


def _duplicate_route(operation: str) -> Callable[[Doc], None]:
    return lambda doc: doc["routes"].append(dict(_route(doc, operation)))


def _by_method_and_path(doc: Doc) -> None:
    entry = _route(doc, "GetBalances")
    entry.pop("operation")
    entry["method"] = "GET"
    entry["path"] = "/open-banking/v3.1/aisp/balance"


CASES = [
    # routes.yaml
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("cache", True)),
        "routes[3] (GetAccounts): unknown key(s) cache",
    ),
    ("routes.yaml", _on_route("GetAccounts", _drop("rate_class")), "GetAccounts): missing key(s) rate_class"),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("operation", "GetAccountz")),
        "operation GetAccountz is not in the OpenAPI documents",
    ),
    ("routes.yaml", _by_method_and_path, "GET /open-banking/v3.1/aisp/balance is not an operation"),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("permissions", {"any_of": ["ReadAccountsBasic", "ReadAccountz"]})),
        "unknown permission(s) ReadAccountz in any_of",
    ),
    (
        "routes.yaml",
        _on_route(
            "GetTransactions",
            _add(
                "permissions",
                {"all_of": [{"any_of": ["ReadTransactionsBasic"]}, {"any_of": ["ReadCredits"]}]},
            ),
        ),
        "permissions.all_of[1]: unknown permission(s) ReadCredits",
    ),
    (
        "routes.yaml",
        _remove_route("GetAccountsAccountIdParty"),
        "without a policy: GetAccountsAccountIdParty (GET /open-banking/v3.1/aisp/accounts/{AccountId}/party)",
    ),
    (
        "routes.yaml",
        _duplicate_route("GetOffers"),
        "GetOffers (GET /open-banking/v3.1/aisp/offers) is listed twice",
    ),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("token", "client")),
        "token client contradicts the OpenAPI security scheme PSUOAuth2Security",
    ),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("token", "psu")),
        "token 'psu' is not one of client, customer",
    ),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("scope", "payments")),
        "scope payments is not a scope the OpenAPI document declares (accounts)",
    ),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("scope", ["accounts", "payments"])),
        "scope payments is not a scope the OpenAPI document declares (accounts)",
    ),
    (
        "routes.yaml",
        _on_route("CreateEvents", _add("scope", ["accounts", "accounts"])),
        "scope lists a scope twice",
    ),
    ("routes.yaml", _on_route("CreateEvents", _add("scope", [])), "scope must be a non-empty list of strings"),
    ("routes.yaml", _on_route("GetAccounts", _add("rate_class", "gold")), "rate_class 'gold' is not one of"),
    (
        "routes.yaml",
        _on_route("GetAccounts", _drop("permissions")),
        "permissions are required on account-information customer routes",
    ),
    (
        "routes.yaml",
        _on_route("CreateDomesticPayments", _add("permissions", {"any_of": ["ReadBalances"]})),
        "permissions apply only to account-information customer routes",
    ),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("idempotent", True)),
        "idempotent applies to POST only",
    ),
    (
        "routes.yaml",
        _on_route("GetDomesticPaymentConsentsConsentId", _add("signed_request", True)),
        "signed_request needs a request body",
    ),
    (
        "routes.yaml",
        _on_route("GetAccountsAccountIdBalances", _add("account_scoped", False)),
        "account_scoped must be True for path /accounts/{AccountId}/balances",
    ),
    ("routes.yaml", _on_route("GetAccounts", _add("idempotent", "no")), "idempotent must be true or false"),
    (
        "routes.yaml",
        _on_route("GetAccounts", _add("method", "GET")),
        "name the operation by operation or by method + path, not both",
    ),
    ("routes.yaml", _set("version", 2), "routes.yaml: (top level): version must be 1, got 2"),
    ("routes.yaml", _set("routes", []), "routes must be a non-empty list"),
    # rate-limits.yaml
    (
        "rate-limits.yaml",
        _set("tiers.standard.account-read", "50/fortnight"),
        "tiers.standard: account-read is not a valid limit string '50/fortnight'",
    ),
    ("rate-limits.yaml", _set("per_consent", "lots"), "per_consent is not a valid limit string 'lots'"),
    ("rate-limits.yaml", _set("per_consent", 100), "per_consent must be a limit string"),
    (
        "rate-limits.yaml",
        _set("tiers.premium.consent", "0/second"),
        "consent '0/second': every limit must allow at least 1 request",
    ),
    (
        "rate-limits.yaml",
        lambda doc: doc["tiers"]["sandbox"].pop("funds-check"),
        "rate-limits.yaml: (top level).tiers.sandbox: missing key(s) funds-check",
    ),
    ("rate-limits.yaml", _set("tiers.sandbox.vip", "1/second"), "tiers.sandbox: unknown key(s) vip"),
    (
        "rate-limits.yaml",
        _set("default_tier", "gold"),
        "default_tier 'gold' is not one of premium, sandbox, standard",
    ),
    ("rate-limits.yaml", _set("strategy", "token-bucket"), "strategy 'token-bucket' is not one of"),
    ("rate-limits.yaml", _set("unattended.limit", "4/dya"), "unattended: limit is not a valid limit string"),
    ("rate-limits.yaml", _set("unattended.per", ["account"]), "per must include consent"),
    ("rate-limits.yaml", _set("unattended.per", ["consent", "ip"]), "unknown counting key(s) ip in per"),
    ("rate-limits.yaml", _set("unattended.scopes", ["openid"]), "unknown scope(s) openid in scopes"),
    ("rate-limits.yaml", _set("burst", 10), "rate-limits.yaml: (top level): unknown key(s) burst"),
    ("rate-limits.yaml", lambda doc: doc.pop("sign_in"), "rate-limits.yaml: (top level): missing key(s) sign_in"),
    (
        "rate-limits.yaml",
        _set("sign_in.per_username", "5/fortnight"),
        "sign_in: per_username is not a valid limit string '5/fortnight'",
    ),
    ("rate-limits.yaml", _set("sign_in.per_ip", "5/minute"), "sign_in: unknown key(s) per_ip"),
    # fapi.yaml
    (
        "fapi.yaml",
        _set("algorithms.request_object", ["PS256", "none"]),
        "unknown algorithm(s) none in request_object",
    ),
    (
        "fapi.yaml",
        _set("algorithms.client_assertion", ["RS256"]),
        "unknown algorithm(s) RS256 in client_assertion",
    ),
    ("fapi.yaml", _set("algorithms.id_token", []), "id_token must be a non-empty list of strings"),
    ("fapi.yaml", _set("algorithms.message_signature", ["ES256"]), "message_signature must be [PS256]"),
    ("fapi.yaml", _set("algorithms.userinfo", ["PS256"]), "algorithms: unknown key(s) userinfo"),
    (
        "fapi.yaml",
        _set("lifetimes.authorization_code", 120),
        "authorization_code must be at most 60 (FAPI 2.0 Security Profile section 5.3.2",
    ),
    ("fapi.yaml", _set("lifetimes.par_request_uri", 600), "par_request_uri must be at most 599"),
    ("fapi.yaml", _set("lifetimes.access_token", 0), "access_token must be at least 1, got 0"),
    ("fapi.yaml", _set("lifetimes.access_token", "5m"), "access_token must be an integer, got '5m'"),
    ("fapi.yaml", _set("clock_skew.ahead_seconds", 120), "ahead_seconds must be at most 60"),
    ("fapi.yaml", lambda doc: doc.pop("lifetimes"), "fapi.yaml: (top level): missing key(s) lifetimes"),
]


@pytest.mark.parametrize(("file", "change", "message"), CASES, ids=[c[2][:60] for c in CASES])
async def test_a_broken_policy_is_refused_naming_the_problem(
    tmp_path: Path, specs: OpenApiSpecs, file: str, change: Callable[[Doc], None], message: str
) -> None:
    broken = _broken(tmp_path, file, change)
    with pytest.raises(PolicyError) as refused:
        load_policies(broken, specs=specs)
    assert refused.value.file == file
    assert message in str(refused.value)


async def test_a_policy_file_that_is_not_yaml_is_refused(tmp_path: Path, specs: OpenApiSpecs) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    (target / "fapi.yaml").write_text("algorithms: [PS256\n")
    with pytest.raises(PolicyError, match=r"fapi.yaml: \(file\): .*not valid YAML"):
        load_policies(target, specs=specs)


async def test_a_missing_policy_file_is_refused(tmp_path: Path, specs: OpenApiSpecs) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    (target / "routes.yaml").unlink()
    with pytest.raises(PolicyError, match=r"routes.yaml: \(file\): .*cannot read"):
        load_policies(target, specs=specs)


async def test_a_policy_file_that_is_not_a_mapping_is_refused(tmp_path: Path, specs: OpenApiSpecs) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    (target / "rate-limits.yaml").write_text("- 50/second\n")
    with pytest.raises(PolicyError, match="rate-limits.yaml: .*expected a mapping"):
        load_policies(target, specs=specs)


async def test_the_unbroken_copy_loads(tmp_path: Path, specs: OpenApiSpecs) -> None:
    # The harness itself: a round trip through yaml.safe_dump with no change is accepted, so every refusal
    # above comes from the one broken value.
    loaded = load_policies(_broken(tmp_path, "routes.yaml", lambda doc: None), specs=specs)
    assert len(loaded.routes) == 61  # 49 R/W API operations, the seven VRP ones and the five Events API ones
