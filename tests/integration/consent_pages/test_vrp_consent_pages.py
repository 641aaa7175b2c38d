"""A VRP consent on the customer's pages (vrp-openapi.yaml OBDomesticVRPControlParameters; docs/obie-notes-vrp-events.md
section 4): the consent page in plain words with one debtor account, approval through PAR and /authorize as for
other payment consents, the dashboard listing its limits, and revocation."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from gateway.store.payment_tables import VrpPaymentRecord
from tests.helpers.oauth import hidden_field
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import consent_page
from tests.integration.consent_pages.conftest import decide
from tests.integration.consent_pages.conftest import intent_claims
from tests.integration.consent_pages.conftest import load_consent
from tests.integration.consent_pages.conftest import lodge_vrp
from tests.integration.consent_pages.conftest import push
from tests.integration.consent_pages.conftest import redeem
from tests.integration.consent_pages.test_dashboard import introspect
from tests.integration.consent_pages.test_dashboard import sign_in as dashboard_sign_in

LIMITS = ("Alice savings (ending 5698)", "up to GBP 50.00", "GBP 100.00 per calendar month",
          "sweeping between your own accounts", "31 December 2099")


async def _approved(client, db, tpp):  # type: ignore[no-untyped-def]
    consent_id = await lodge_vrp(db, tpp.client_id)
    request_uri, verifier = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1])
    assert final.status_code == 303, final.text
    issued = await redeem(client, tpp, final.headers["location"], verifier)
    assert issued.status_code == 200, issued.text
    return consent_id, issued.json()


async def test_vrp_consent_page_shows_payee_limits_type_and_one_account_choice(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_vrp(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    for text in (*LIMITS, "<legend>Choose the account to pay from</legend>", "withdraw this access"):
        assert text in page.text, text
    assert page.text.count('type="radio"') == len(account_ids("alice"))
    refused = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:2])
    assert refused.status_code == 400 and "Choose exactly one account" in refused.text
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "AwaitingAuthorisation"


async def test_approve_then_dashboard_lists_the_limits_and_revoke_ends_it(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, issued = await _approved(client, db, tpp)
    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "Authorised" and accounts == account_ids("alice")[:1]
    dashboard = await dashboard_sign_in(client)
    for text in LIMITS:
        assert text in dashboard.text, text
    assert f'href="/consents/{consent_id}/revoke"' in dashboard.text
    confirm = await client.get(f"/consents/{consent_id}/revoke")
    assert confirm.status_code == 200
    done = await client.post(f"/consents/{consent_id}/revoke", data={"csrf": hidden_field(confirm.text, "csrf")})
    assert done.status_code == 303
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Revoked"
    assert await introspect(client, tpp, issued["access_token"]) == {"active": False}
    assert f'href="/consents/{consent_id}/revoke"' not in (await client.get("/consents")).text


async def test_deny_rejects_the_vrp_consent(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_vrp(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, decision="deny")
    assert final.status_code == 303 and "access_denied" in final.headers["location"]
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Rejected"


async def _admitted(db, consent_id: str, *, amount: str, counted: bool = True, n: int) -> None:  # type: ignore[no-untyped-def]
    """A VRP the gateway admitted under the consent (its record, as ``gateway.pipeline.vrp_store`` writes it)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        session.add(VrpPaymentRecord(
            record_id=f"rec-{consent_id}-{n}", client_id="c", idempotency_key=f"k-{n}", request_hash="h" * 64,
            kind="domestic-vrps", consent_id=consent_id, psu_id="alice", account_id="a", amount=amount,
            currency="GBP", state="done", counted=counted, lease_token="t", lease_until=now,
            payment_id=f"vrp-{consent_id}-{n}", response_status=201, response_body="{}", created_at=now,
            completed_at=now))
        await session.commit()


async def test_the_dashboard_shows_the_payments_made_and_the_allowance_used_and_left(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await _approved(client, db, tpp)
    await _admitted(db, consent_id, amount="30.00", n=1)
    await _admitted(db, consent_id, amount="12.50", n=2)
    await _admitted(db, consent_id, amount="40.00", counted=False, n=3)  # rejected by the bank: not counted
    dashboard = await dashboard_sign_in(client)
    assert "This calendar month: GBP 42.50 used, GBP 57.50 left" in dashboard.text
    assert "Payments made (3)" in dashboard.text
    assert "GBP 30.00" in dashboard.text and "GBP 12.50" in dashboard.text
    assert "GBP 40.00 (rejected by the bank, not counted)" in dashboard.text
    exported = (await client.get("/consents/export")).json()
    [vrp] = [c["vrp"] for c in exported["consents"] if c["consent_id"] == consent_id]
    assert [a["remaining"] for a in vrp["allowances"]] == ["57.50"]
    assert sorted(p["amount"] for p in vrp["payments"]) == ["12.50", "30.00", "40.00"]
