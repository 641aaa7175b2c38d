"""Sandbox scenario controls (docs/architecture.md sections 1 and 5): a TPP, with its own client-credentials token, expires
or revokes its consents, settles or rejects its payments, arms 429/503 faults on its next calls and resets its
data; never another TPP's; absent (404) outside sandbox mode or with the sandbox switch off."""

# ruff: noqa: F811  (pytest fixtures imported by name are parameters of the tests below)

from __future__ import annotations

from typing import Any

import httpx
import pytest

from consent.models import Consent
from gateway.app import create_app
from gateway.hosting import sandbox_controls
from gateway.settings import Settings
from tests.contract.validate import assert_conforms
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.payments import approve
from tests.helpers.payments import approved_payment
from tests.helpers.payments import submit
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import gateway_app  # noqa: F401
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import other_tpp  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)

CONTROLS = "/sandbox/v1"


@pytest.fixture
def settings(var_dir, live_bank):  # type: ignore[no-untyped-def]  # noqa: F811
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank)


async def control(tpp: Tpp, path: str, body: Any = None, *, method: str = "POST") -> httpx.Response:
    """A control call; every answer must be the one ``openapi/oauth.yaml`` documents."""
    response = await tpp.call(method, f"{CONTROLS}{path}", body=body, check=False)
    assert_conforms(response)
    return response


async def pending_payment(tpp: Tpp) -> tuple[str, Any]:
    approved = await approved_payment(tpp)
    created = await submit(tpp, approved, key="scenario-1")
    assert created.status_code == 201, created.text
    assert created.json()["Data"]["Status"] == "Pending"
    return created.json()["Data"]["DomesticPaymentId"], approved


async def authorised_account_consent(tpp: Tpp) -> str:
    created = await tpp.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    consent_id = str(created.json()["Data"]["ConsentId"])
    await approve(tpp, consent_id, scope="accounts")
    return consent_id


async def test_settle_now_completes_the_tpps_payment(tpp: Tpp) -> None:
    payment_id, _ = await pending_payment(tpp)
    settled = await control(tpp, f"/payments/{payment_id}/settle")
    assert settled.status_code == 200, settled.text
    assert settled.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    path = f"{PISP}/domestic-payments/{payment_id}"
    read = await tpp.call("GET", path)
    assert read.json()["Data"]["Status"] == "AcceptedSettlementCompleted"


async def test_reject_turns_a_pending_payment_rejected_with_its_reason(tpp: Tpp) -> None:
    payment_id, _ = await pending_payment(tpp)
    rejected = await control(tpp, f"/payments/{payment_id}/reject")
    assert rejected.status_code == 200, rejected.text
    data = rejected.json()["Data"]
    assert data["Status"] == "Rejected"
    assert "UK.OBIE.Rules.FailsControlParameters" in str(data)


async def test_a_settled_payment_cannot_be_rejected(tpp: Tpp) -> None:
    payment_id, _ = await pending_payment(tpp)
    assert (await control(tpp, f"/payments/{payment_id}/settle")).status_code == 200
    again = await control(tpp, f"/payments/{payment_id}/reject")
    assert_ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus", "PaymentId")


async def test_another_tpps_payment_is_unknown_to_the_controls(tpp: Tpp, other_tpp: Tpp) -> None:
    payment_id, _ = await pending_payment(tpp)
    for action in ("settle", "reject"):
        refused = await control(other_tpp, f"/payments/{payment_id}/{action}")
        assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "PaymentId")


async def test_expire_makes_the_consent_expired_for_the_tpp(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_account_consent(tpp)
    expired = await control(tpp, f"/consents/{consent_id}/expire")
    assert expired.status_code == 200, expired.text
    assert expired.json()["Data"] == {"ConsentId": consent_id, "Status": "Expired"}
    async with db.session() as session:
        stored = await session.get(Consent, consent_id)
        assert stored is not None and stored.status == "Expired"
    # v3.1.11 has no Expired status on the wire: the TPP sees Authorised with a passed ExpirationDateTime.
    seen = await tpp.call("GET", f"{AISP}/{consent_id}")
    assert seen.json()["Data"]["Status"] == "Authorised"


async def test_only_an_authorised_consent_can_be_expired(tpp: Tpp) -> None:
    created = await tpp.create(AISP, account_access_body())
    consent_id = created.json()["Data"]["ConsentId"]
    refused = await control(tpp, f"/consents/{consent_id}/expire")
    assert_ob_error(refused, 400, "UK.OBIE.Resource.InvalidConsentStatus", "ConsentId")


async def test_revoke_makes_the_consent_revoked_for_the_tpp(tpp: Tpp) -> None:
    consent_id = await authorised_account_consent(tpp)
    revoked = await control(tpp, f"/consents/{consent_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    seen = await tpp.call("GET", f"{AISP}/{consent_id}")
    assert seen.json()["Data"]["Status"] == "Revoked"


async def test_a_payment_consent_cannot_be_revoked(tpp: Tpp) -> None:
    _, approved = await pending_payment(tpp)
    refused = await control(tpp, f"/consents/{approved.consent_id}/revoke")
    assert_ob_error(refused, 400, "UK.OBIE.Resource.InvalidConsentStatus", "ConsentId")


async def test_another_tpps_consent_is_unknown_to_the_controls(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = await authorised_account_consent(tpp)
    for action in ("expire", "revoke"):
        refused = await control(other_tpp, f"/consents/{consent_id}/{action}")
        assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "ConsentId")
    seen = await tpp.call("GET", f"{AISP}/{consent_id}")
    assert seen.json()["Data"]["Status"] == "Authorised"


async def test_armed_429_answers_the_next_n_calls_then_stops(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    armed = await control(tpp, "/faults", {"status": 429, "count": 2})
    assert armed.status_code == 200, armed.text
    for _ in range(2):
        limited = await tpp.call("GET", f"{AISP}/{consent_id}", check=False)
        assert limited.status_code == 429, limited.text
        assert limited.json()["Errors"][0]["ErrorCode"] == "UK.OBGW.RateLimit.Exceeded"
        assert "sandbox scenario control" in limited.json()["Message"]
        assert limited.headers["Retry-After"] == "1"
    # Another TPP is untouched, and the third call passes.
    other = await other_tpp.call("GET", f"{AISP}/{consent_id}", check=False)
    assert other.status_code != 429
    assert (await tpp.call("GET", f"{AISP}/{consent_id}")).status_code == 200


async def test_armed_503_answers_as_an_unavailable_bank_until_disarmed(tpp: Tpp) -> None:
    consent_id = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    assert (await control(tpp, "/faults", {"status": 503, "count": 5})).status_code == 200
    unavailable = await tpp.call("GET", f"{AISP}/{consent_id}", check=False)
    assert unavailable.status_code == 503
    assert unavailable.headers.get("x-fapi-interaction-id")
    assert (await control(tpp, "/faults", method="DELETE")).status_code == 204
    assert (await tpp.call("GET", f"{AISP}/{consent_id}")).status_code == 200


@pytest.mark.parametrize(("body", "field"), [({"status": 500}, "status"), ({"status": True}, "status"),
                                             ({"status": 429, "count": 0}, "count"),
                                             ({"status": 429, "count": 101}, "count")])
async def test_a_fault_needs_a_known_status_and_a_bounded_count(tpp: Tpp, body: Any, field: str) -> None:
    refused = await control(tpp, "/faults", body)
    assert_ob_error(refused, 400, "UK.OBIE.Field.Invalid", field)


async def test_reset_revokes_the_tpps_consents_and_tokens(tpp: Tpp) -> None:
    authorised = await authorised_account_consent(tpp)
    awaiting = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    reset = await control(tpp, "/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["Data"]["RevokedConsents"] == [authorised]
    assert reset.json()["Data"]["RejectedConsents"] == [awaiting]
    # The token that called reset is revoked too: the TPP starts again from a new token.
    after = await tpp.call("GET", f"{AISP}/{authorised}", check=False)
    assert after.status_code == 401


async def test_controls_need_the_tpps_token(client: httpx.AsyncClient) -> None:
    refused = await client.post(f"{CONTROLS}/reset")
    assert_conforms(refused)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"


async def test_controls_do_not_exist_with_the_sandbox_switch_off(var_dir, gateway_keys) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(var_dir=var_dir, issuer=ISSUER, headless_approval=False), keys=gateway_keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        for path in ("/reset", "/faults", "/consents/x/expire", "/payments/x/settle"):
            assert (await http.post(f"{CONTROLS}{path}")).status_code == 404


async def test_production_mode_mounts_no_control_and_no_fault_switch(var_dir) -> None:  # type: ignore[no-untyped-def]
    # docs/architecture.md section 5: scenario controls are sandbox only, whatever the other switches say.
    production = Settings(var_dir=var_dir, issuer=ISSUER, mode="production", headless_approval=True)
    assert sandbox_controls.routes(production) == []
    assert sandbox_controls.middleware(production) == []
