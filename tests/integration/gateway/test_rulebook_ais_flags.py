"""The rulebook's ``signed_response`` flag (policies/routes.yaml) decides whether account-information answers are
signed.

R/W API "Message Signing" (docs/obie-notes.md section 2.1): the Account and Transaction API is not signed, and the
shipped rulebook marks none of its operations ``signed_response``. The pipeline reads the flag per operation: a copy
of the rulebook that marks GetAccounts signed makes its answers, and only its, carry the gateway's signature.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.conftest import SANDBOX_URL
from tests.helpers.jws import verify_detached
from tests.helpers.rulebook import changed_rulebook
from tests.integration.gateway.conftest import AIS
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import make_grant

PRESENT = {"x-fapi-customer-ip-address": "198.51.100.7"}
PERMISSIONS = ["ReadAccountsDetail", "ReadBalances"]


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    routes = getattr(request, "param", None)
    if routes is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    policies = changed_rulebook(tmp_path / "policies", routes=routes)
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


async def test_shipped_rulebook_leaves_account_answers_unsigned(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=PERMISSIONS)
    response = await gw.get(f"{AIS}/accounts", headers=grant.headers("GET", f"{AIS}/accounts", **PRESENT))
    assert response.status_code == 200, response.text
    assert "x-jws-signature" not in response.headers


@pytest.mark.parametrize("settings", [{"GetAccounts": {"signed_response": True}}], indirect=True)
async def test_account_answers_are_signed_when_the_rulebook_says_so(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=PERMISSIONS)
    response = await gw.get(f"{AIS}/accounts", headers=grant.headers("GET", f"{AIS}/accounts", **PRESENT))
    assert response.status_code == 200, response.text
    verify_detached(response.headers["x-jws-signature"], body=response.content, jwks=(await gw.get("/jwks")).json())
    refused = await gw.get(f"{AIS}/accounts")
    assert refused.status_code == 401 and "x-jws-signature" not in refused.headers  # bodyless: nothing to sign
    balances = await gw.get(f"{AIS}/balances", headers=grant.headers("GET", f"{AIS}/balances", **PRESENT))
    assert balances.status_code == 200, balances.text
    assert "x-jws-signature" not in balances.headers
