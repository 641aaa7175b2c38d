"""Statement endpoints through the gateway to the sandbox bank, and no consent that reaches the bank ends in a 5xx.

Which permissions each statement endpoint needs (docs/obie-notes.md section 4, "Permissions" table and its note):
``/statements``, ``/accounts/{AccountId}/statements`` and ``.../statements/{StatementId}`` need ReadStatementsBasic
or ReadStatementsDetail; ``.../file`` needs ReadStatementsDetail; ``.../transactions`` is gated exactly like account
transactions (ReadTransactionsBasic or Detail, and ReadTransactionsCredits or Debits), with no statement permission.

A bank refusal the gateway should have prevented is a gateway bug, so every AIS route in ``policies/routes.yaml``
is called under a representative set of consents and each answer must be 200 or a 403 OBIE error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from consent.errors import InvalidPermissions
from consent.permissions import OPERATION_PATHS
from consent.permissions import Permission
from sandbox.customers import accounts_of
from tests.integration.gateway.conftest import AIS
from tests.integration.gateway.conftest import make_grant

ROUTES = Path(__file__).resolve().parents[3] / "policies" / "routes.yaml"
A = "{AccountId}"
S = "{StatementId}"
IP = {"x-fapi-customer-ip-address": "10.0.0.1"}

LIST = f"/accounts/{A}/statements"
ONE = f"/accounts/{A}/statements/{S}"
FILE = f"/accounts/{A}/statements/{S}/file"
TRANSACTIONS = f"/accounts/{A}/statements/{S}/transactions"
BULK = "/statements"

BASIC = "ReadAccountsBasic"
# Permission set -> expected status of (list, one, file, transactions, bulk).
STATEMENT_CASES: dict[str, tuple[list[str], dict[str, int]]] = {
    "transactions-credits-no-statements": (
        [BASIC, "ReadTransactionsBasic", "ReadTransactionsCredits"],
        {LIST: 403, ONE: 403, FILE: 403, TRANSACTIONS: 200, BULK: 403}),
    "statements-detail-and-transactions-detail": (
        [BASIC, "ReadStatementsDetail", "ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits"],
        {LIST: 200, ONE: 200, FILE: 200, TRANSACTIONS: 200, BULK: 200}),
    "statements-basic": (
        [BASIC, "ReadStatementsBasic"],
        {LIST: 200, ONE: 200, FILE: 403, TRANSACTIONS: 403, BULK: 200}),
    "statements-detail": (
        [BASIC, "ReadStatementsDetail"],
        {LIST: 200, ONE: 200, FILE: 200, TRANSACTIONS: 403, BULK: 200}),
    "statements-basic-and-transactions": (
        [BASIC, "ReadStatementsBasic", "ReadTransactionsBasic", "ReadTransactionsDebits"],
        {LIST: 200, ONE: 200, FILE: 403, TRANSACTIONS: 200, BULK: 200}),
    "accounts-only": (
        [BASIC],
        {LIST: 403, ONE: 403, FILE: 403, TRANSACTIONS: 403, BULK: 403}),
}

ALL = sorted(p.value for p in Permission)
DETAIL_ONLY = sorted(p for p in ALL if not p.endswith("Basic"))
BASIC_ONLY = sorted(p for p in ALL if not p.endswith("Detail") and p != "ReadPAN")
PERMISSION_SETS: dict[str, list[str]] = {
    **{f"{BASIC}+{p}": sorted({BASIC, p}) for p in ALL},
    "basic-only": BASIC_ONLY,
    "detail-only": DETAIL_ONLY,
    "all": ALL,
    "transactions-credits-no-statements": [BASIC, "ReadTransactionsBasic", "ReadTransactionsCredits"],
}


def _ais_templates() -> list[str]:
    """Every customer-token AIS route of the shipped rulebook, as a path template under the AIS base."""
    routes = yaml.safe_load(ROUTES.read_text())["routes"]
    operations = [r["operation"] for r in routes if r.get("operation") in OPERATION_PATHS]
    assert sorted(operations) == sorted(OPERATION_PATHS), "routes.yaml and the AIS permission table disagree"
    return [OPERATION_PATHS[o] for o in operations]


async def _statement_id(gw, db, account_id: str) -> str:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=[BASIC, "ReadStatementsBasic"])
    path = f"{AIS}/accounts/{account_id}/statements"
    listing = await gw.get(path, headers=grant.headers("GET", path, **IP))
    assert listing.status_code == 200, listing.text
    return str(listing.json()["Data"]["Statement"][0]["StatementId"])


async def _call(gw, grant, template: str, *, account_id: str, statement_id: str) -> Any:  # type: ignore[no-untyped-def]
    path = AIS + template.replace(A, account_id).replace(S, statement_id)
    return await gw.get(path, headers=grant.headers("GET", path, **IP))


@pytest.mark.parametrize("case", list(STATEMENT_CASES), ids=list(STATEMENT_CASES))
async def test_statement_endpoints_answer_by_the_consent(gw, db, case: str) -> None:  # type: ignore[no-untyped-def]
    permissions, expected = STATEMENT_CASES[case]
    account_id = accounts_of("alice")[0].account_id
    statement_id = await _statement_id(gw, db, account_id)
    grant = await make_grant(db, permissions=permissions)
    seen = {}
    for template in expected:
        response = await _call(gw, grant, template, account_id=account_id, statement_id=statement_id)
        seen[template] = response.status_code
        if response.status_code == 403:
            assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus", template
    assert seen == expected


async def test_no_consent_reaching_the_bank_ends_in_a_server_error(gw, db) -> None:  # type: ignore[no-untyped-def]
    templates = _ais_templates()
    account_id = accounts_of("alice")[0].account_id
    statement_id = await _statement_id(gw, db, account_id)
    problems: list[str] = []
    tried = 0
    for name, permissions in PERMISSION_SETS.items():
        try:
            grant = await make_grant(db, permissions=permissions)
        except InvalidPermissions:
            continue  # the consent API refuses this set (AISP "Permissions"), so it never reaches the bank
        tried += 1
        for template in templates:
            response = await _call(gw, grant, template, account_id=account_id, statement_id=statement_id)
            if response.status_code == 200:
                continue
            if response.status_code == 403 and response.json().get("Errors"):
                continue
            problems.append(f"{name} {template}: {response.status_code} {response.text[:160]}")
    assert not problems, "\n".join(problems)
    assert tried >= len(PERMISSION_SETS) - 4
