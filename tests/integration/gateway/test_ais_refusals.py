"""Refusals of the AIS pipeline, each with its status and OBIE code (R/W API v3.1.11 "HTTP Status Codes")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from consent import service
from consent.models import Consent
from consent.models import ConsentEvent
from gateway.backend.bank import Bank
from gateway.backend.upstream import Upstream
from gateway.store.db import utcnow
from sandbox.customers import accounts_of
from tests.integration.gateway.conftest import AIS
from tests.integration.gateway.conftest import insert_token
from tests.integration.gateway.conftest import make_grant

PRESENT = {"x-fapi-customer-ip-address": "198.51.100.7"}


async def test_another_customers_account_id_is_403(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail", "ReadBalances"])
    path = f"{AIS}/accounts/{accounts_of('dave')[0].account_id}/balances"
    response = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 403
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"


async def test_client_credentials_token_on_a_customer_endpoint_is_401_without_body(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail"])
    token = await insert_token(db, fapi=grant.fapi, psu_id=None, consent_id=None, grant_type="client_credentials")
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers={"authorization": f"DPoP {token}",
                                           "dpop": grant.fapi.dpop("GET", path, access_token=token)})
    assert response.status_code == 401 and response.content == b""
    assert "invalid_token" in response.headers["www-authenticate"]
    assert response.headers["x-fapi-interaction-id"]


async def test_missing_token_is_401(gw) -> None:  # type: ignore[no-untyped-def]
    response = await gw.get(f"{AIS}/accounts")
    assert response.status_code == 401 and response.content == b""


async def test_token_without_accounts_scope_is_403(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail"])
    token = await insert_token(db, fapi=grant.fapi, psu_id=grant.psu_id, consent_id=grant.consent_id,
                               scope="openid payments")
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers={"authorization": f"DPoP {token}",
                                           "dpop": grant.fapi.dpop("GET", path, access_token=token)})
    assert response.status_code == 403
    # One rule for every OBIE endpoint (gateway.pipeline.tokens.obie_token_refusal): the token in Authorization
    # lacks the scope; the consent itself is fine.
    error = response.json()["Errors"][0]
    assert (error["ErrorCode"], error["Path"]) == ("UK.OBIE.Header.Invalid", "Authorization")
    assert "insufficient_scope" in response.headers["www-authenticate"]


async def test_revoked_consent_is_refused(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail"])
    async with db.session() as session:
        await service.revoke(session=session, consent_id=grant.consent_id, psu_id=grant.psu_id, now=utcnow())
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 403
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus"


async def test_expired_consent_is_refused(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail"])
    async with db.session() as session:
        await session.exec(update(Consent).where(Consent.consent_id == grant.consent_id)  # type: ignore[arg-type]
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 403
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus"


async def test_another_clients_consent_is_refused(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail"])
    other = await make_grant(db, permissions=["ReadAccountsDetail"])
    token = await insert_token(db, fapi=other.fapi, psu_id=grant.psu_id, consent_id=grant.consent_id)
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers={"authorization": f"DPoP {token}",
                                           "dpop": other.fapi.dpop("GET", path, access_token=token), **PRESENT})
    assert response.status_code == 403
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"


async def test_unattended_access_is_four_a_day_then_429_with_retry_after(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsDetail", "ReadBalances"])
    path = f"{AIS}/accounts/{grant.account_ids[0]}/balances"
    remaining = []
    for _ in range(4):
        response = await gw.get(path, headers=grant.headers("GET", path))
        assert response.status_code == 200, response.text
        remaining.append(response.headers["x-obgw-unattended-remaining"])
    assert remaining == ["3", "2", "1", "0"]
    refused = await gw.get(path, headers=grant.headers("GET", path))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    error = refused.json()["Errors"][0]
    assert error["ErrorCode"] == "UK.OBGW.RateLimit.Unattended"
    assert "x-fapi-customer-ip-address" in error["Message"] and "resets in" in error["Message"]
    present = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert present.status_code == 200 and "x-obgw-unattended-remaining" not in present.headers


async def test_bad_booking_date_is_400_invalid_date(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsDebits"])
    path = f"{AIS}/accounts/{grant.account_ids[0]}/transactions"
    response = await gw.get(path + "?fromBookingDateTime=last-week", headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 400
    assert response.json()["Errors"][0] == {"ErrorCode": "UK.OBIE.Field.InvalidDate",
                                            "Message": "fromBookingDateTime must be an ISO 8601 date-time",
                                            "Path": "fromBookingDateTime"}


async def test_unacceptable_accept_is_406_and_bad_header_is_400(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic"])
    path = f"{AIS}/accounts"
    assert (await gw.get(path, headers=grant.headers("GET", path, accept="text/html", **PRESENT))).status_code == 406
    bad = await gw.get(path, headers=grant.headers("GET", path, **{"x-fapi-customer-ip-address": "nobody"}))
    assert bad.status_code == 400 and bad.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Header.Invalid"


async def test_unknown_path_is_404_and_wrong_method_is_405(gw) -> None:  # type: ignore[no-untyped-def]
    assert (await gw.get(f"{AIS}/accounts/a/secrets")).status_code == 404
    response = await gw.delete(f"{AIS}/accounts")
    assert response.status_code == 405 and response.content == b""


async def test_transactions_are_clamped_to_the_consented_window(gw, db) -> None:  # type: ignore[no-untyped-def]
    start = (utcnow() - timedelta(days=10)).replace(microsecond=0)
    grant = await make_grant(db, permissions=["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsCredits",
                                              "ReadTransactionsDebits"],
                             data={"TransactionFromDateTime": start.isoformat()})
    path = f"{AIS}/accounts/{grant.account_ids[0]}/transactions"
    response = await gw.get(path + "?fromBookingDateTime=2000-01-01", headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 200, response.text
    booked = [t["BookingDateTime"] for t in response.json()["Data"].get("Transaction", [])]
    assert all(b >= start.strftime("%Y-%m-%dT%H:%M:%S") for b in booked)


async def test_served_calls_are_recorded_in_the_audit_trail(gw, db, pipeline) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic"])
    path = f"{AIS}/accounts"
    assert (await gw.get(path, headers=grant.headers("GET", path, **PRESENT))).status_code == 200
    assert (await gw.get(path, headers=grant.headers("GET", path))).status_code == 200
    await pipeline.recorder.flush()
    async with db.session() as session:
        events = (await session.exec(select(ConsentEvent).where(ConsentEvent.consent_id == grant.consent_id,
                                                                ConsentEvent.event == "accessed"))).all()
    assert [(e.detail["endpoint"], e.detail["customer_present"]) for e in events] == [
        ("/accounts", True), ("/accounts", False)]


async def test_unreachable_bank_is_502_in_obie_form(gw, db, pipeline) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic"])
    bank = pipeline.services.bank
    await bank.close()
    pipeline.services.bank = Bank(transport=Upstream(base_url="http://127.0.0.1:9", retries=0),
                                  issuer=pipeline.services.settings.issuer, keys=pipeline.services.keys)
    path = f"{AIS}/accounts"
    response = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 502
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.UnexpectedError"
    assert response.headers["x-fapi-interaction-id"]
