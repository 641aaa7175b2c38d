"""The rulebook's route flags (policies/routes.yaml ``idempotent``, ``signed_request``, ``signed_response``) decide
what a consent POST needs and which consent answers the gateway signs; its ``lifetimes.idempotency_key``
(policies/fapi.yaml) how long a key replays.

R/W API "Idempotency" and "Message Signing" (docs/obie-notes.md section 5): the shipped rulebook marks payment-order
consent POSTs idempotent and signed, and every payment-consent answer signed; the consent API reads those flags instead
of deciding by path. Each test here runs the gateway on the shipped rulebook or a copy with one or two flags changed.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.rulebook import changed_rulebook
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import PAYMENT_COLLECTIONS
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import payment_body

SHIPPED = Path(__file__).resolve().parents[3] / "policies"
DOMESTIC = PAYMENT_COLLECTIONS[0]
OPERATION = "CreateDomesticPaymentConsents"


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shipped rulebook, or (parametrized with a flag name) a copy with that flag off for OPERATION, or
    (parametrized with ``changed_rulebook`` arguments: ``{"routes": ...}``, ``{"fapi": ...}``) a changed copy."""
    flag: str | dict[str, Any] | None = getattr(request, "param", None)
    if flag is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    if isinstance(flag, dict):
        policies = changed_rulebook(tmp_path / "policies", **flag)
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)
    policies = tmp_path / "policies"
    shutil.copytree(SHIPPED, policies)
    routes = yaml.safe_load((policies / "routes.yaml").read_text())
    (rule,) = [r for r in routes["routes"] if r.get("operation") == OPERATION]
    assert rule[flag] is True
    rule[flag] = False
    (policies / "routes.yaml").write_text(yaml.safe_dump(routes, sort_keys=False))
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


async def test_shipped_rulebook_requires_a_key_and_a_signature(tpp: Tpp) -> None:
    assert_ob_error(await tpp.create(DOMESTIC, payment_body(DOMESTIC)), 400, "UK.OBIE.Header.Missing",
                    "x-idempotency-key")
    unsigned = await tpp.call("POST", DOMESTIC, body=payment_body(DOMESTIC), headers={"x-idempotency-key": "k1"},
                              sign=False, check=False)
    assert unsigned.status_code == 400, unsigned.text
    assert unsigned.json()["Errors"][0]["ErrorCode"].startswith("UK.OBIE.Signature"), unsigned.text


@pytest.mark.parametrize("settings", ["idempotent"], indirect=True)
async def test_no_key_is_needed_when_the_route_is_not_idempotent(tpp: Tpp) -> None:
    response = await tpp.create(DOMESTIC, payment_body(DOMESTIC))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("settings", ["signed_request"], indirect=True)
async def test_no_signature_is_needed_when_the_route_is_not_signed(tpp: Tpp) -> None:
    response = await tpp.call("POST", DOMESTIC, body=payment_body(DOMESTIC), headers={"x-idempotency-key": "k1"},
                              sign=False, check=False)
    assert response.status_code == 201, response.text


async def test_shipped_rulebook_signs_payment_consent_answers_only(tpp: Tpp) -> None:
    created = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1")
    assert created.status_code == 201, created.text
    assert created.headers.get("x-jws-signature")
    read = await tpp.call("GET", f"{DOMESTIC}/{created.json()['Data']['ConsentId']}")
    assert read.headers.get("x-jws-signature")
    account_access = await tpp.create(AISP, account_access_body())
    assert account_access.status_code == 201, account_access.text
    assert "x-jws-signature" not in account_access.headers


@pytest.mark.parametrize("settings", [{"routes": {OPERATION: {"signed_response": False}}}], indirect=True)
async def test_no_answer_signature_when_the_route_is_not_signed_response(tpp: Tpp) -> None:
    created = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1", check=False)
    assert created.status_code == 201, created.text
    assert "x-jws-signature" not in created.headers
    refused = await tpp.create(DOMESTIC, {"Data": {}}, key="k2", check=False)
    assert refused.status_code == 400, refused.text
    assert "x-jws-signature" not in refused.headers
    # The read of the same consent keeps its own rule: still signed.
    read = await tpp.call("GET", f"{DOMESTIC}/{created.json()['Data']['ConsentId']}")
    assert read.headers.get("x-jws-signature")


@pytest.mark.parametrize(
    "settings", [{"routes": {"CreateAccountAccessConsents": {"signed_response": True}}}], indirect=True
)
async def test_account_access_consent_answers_are_signed_when_the_rulebook_says_so(tpp: Tpp) -> None:
    created = await tpp.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    await tpp.assert_signed(created)
    read = await tpp.call("GET", f"{AISP}/{created.json()['Data']['ConsentId']}")
    assert "x-jws-signature" not in read.headers


async def test_shipped_rulebook_replays_a_key_after_a_second(tpp: Tpp) -> None:
    first = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1")
    await asyncio.sleep(1.2)
    replay = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1")
    assert replay.json()["Data"]["ConsentId"] == first.json()["Data"]["ConsentId"]


@pytest.mark.parametrize("settings", [{"fapi": {"lifetimes.idempotency_key": 1}}], indirect=True)
async def test_the_replay_window_is_the_rulebooks_idempotency_key_lifetime(tpp: Tpp) -> None:
    """fapi.yaml lifetimes.idempotency_key: 1 s; the same key a second later is a new consent."""
    first = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1")
    assert first.status_code == 201, first.text
    await asyncio.sleep(1.2)
    second = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k1")
    assert second.status_code == 201, second.text
    assert second.json()["Data"]["ConsentId"] != first.json()["Data"]["ConsentId"]
