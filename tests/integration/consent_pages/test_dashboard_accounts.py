"""Stop sharing one account of an account-access consent on the dashboard (OBIE CX access dashboard; Event
Notification API ``account-access-consent-linked-account-update``): after a confirmation step the account leaves
the consent, the TPP's next call for it is refused, the other account stays shared, the audit chain records it,
and the TPP gets one linked-account-update event, all in one transaction. CSRF, another customer and the last
account are refused and change nothing."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from consent.audit import verify_chain
from consent.models import ConsentEvent
from consent.notifications import EventNotification
from tests.helpers.oauth import hidden_field
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import authorised_consent
from tests.integration.consent_pages.conftest import load_consent
from tests.integration.consent_pages.test_dashboard import sign_in

LINKED_ACCOUNT_UPDATE = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"


async def balances(client: Any, tpp: Any, token: str, account_id: str) -> int:
    path = f"/open-banking/v3.1/aisp/accounts/{account_id}/balances"
    response = await client.get(path, headers={"Authorization": f"DPoP {token}",
                                               "DPoP": tpp.dpop("GET", path, access_token=token),
                                               "x-fapi-customer-ip-address": "10.0.0.1"})
    return response.status_code


async def events_of(db: Any, client_id: str) -> list[EventNotification]:
    async with db.session() as session:
        rows = await session.exec(select(EventNotification).where(EventNotification.client_id == client_id))
        return list(rows.all())


def remove_path(consent_id: str, account_id: str) -> str:
    return f"/consents/{consent_id}/accounts/{account_id}/remove"


async def test_stopping_one_account_refuses_the_tpp_for_it_keeps_the_other_and_tells_the_tpp(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    first, second = account_ids("alice")[:2]
    consent_id, issued = await authorised_consent(client, db, tpp, accounts=[first, second])
    token = issued["access_token"]
    assert await balances(client, tpp, token, second) == 200
    dashboard = await sign_in(client)
    assert f'href="{remove_path(consent_id, second)}"' in dashboard.text
    confirm = await client.get(remove_path(consent_id, second))
    assert confirm.status_code == 200 and '<button type="submit">Stop sharing</button>' in confirm.text
    done = await client.post(remove_path(consent_id, second), data={"csrf": hidden_field(confirm.text, "csrf")})
    assert done.status_code == 303 and done.headers["location"] == "/consents"

    _, accounts = await load_consent(db, consent_id)
    assert list(accounts) == [first]
    assert await balances(client, tpp, token, second) == 403
    assert await balances(client, tpp, token, first) == 200
    [event] = await events_of(db, tpp.client_id)
    assert (event.event_type, event.resource_type, event.resource_id) == (
        LINKED_ACCOUNT_UPDATE, "account-access-consent", consent_id)
    async with db.session() as session:
        changes = (await session.exec(select(ConsentEvent).where(
            ConsentEvent.consent_id == consent_id, ConsentEvent.event == "accounts_changed"))).all()
        assert [c.detail for c in changes] == [{"removed": [second], "accounts": [first]}]
        assert (await verify_chain(session=session)).ok
    history = (await client.get("/consents")).text
    assert "You stopped sharing an account" in history
    assert f'href="{remove_path(consent_id, first)}"' not in history  # the last one cannot go: withdraw instead


async def test_without_csrf_nothing_changes(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    first, second = account_ids("alice")[:2]
    consent_id, _ = await authorised_consent(client, db, tpp, accounts=[first, second])
    await sign_in(client)
    for data in ({}, {"csrf": "forged"}):
        assert (await client.post(remove_path(consent_id, second), data=data)).status_code == 403
    _, accounts = await load_consent(db, consent_id)
    assert sorted(accounts) == sorted([first, second])
    assert await events_of(db, tpp.client_id) == []


async def test_another_customer_cannot_change_the_consent(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    first, second = account_ids("alice")[:2]
    consent_id, _ = await authorised_consent(client, db, tpp, accounts=[first, second])
    page = await sign_in(client, "bob", "bob-builder")
    assert (await client.get(remove_path(consent_id, second))).status_code == 404
    refused = await client.post(remove_path(consent_id, second), data={"csrf": hidden_field(page.text, "csrf")})
    assert refused.status_code == 404
    _, accounts = await load_consent(db, consent_id)
    assert len(accounts) == 2 and await events_of(db, tpp.client_id) == []


async def test_the_last_account_cannot_be_removed(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    only = account_ids("alice")[0]
    consent_id, _ = await authorised_consent(client, db, tpp, accounts=[only])
    page = await sign_in(client)
    assert remove_path(consent_id, only) not in page.text
    assert (await client.get(remove_path(consent_id, only))).status_code == 404
    refused = await client.post(remove_path(consent_id, only), data={"csrf": hidden_field(page.text, "csrf")})
    assert refused.status_code == 404
    _, accounts = await load_consent(db, consent_id)
    assert list(accounts) == [only] and await events_of(db, tpp.client_id) == []
