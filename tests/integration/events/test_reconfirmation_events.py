"""The UK 90-day reconfirmation reaches the TPP once per period (docs/architecture.md section 7;
consent/reconfirmation_notices.py): an active account-access consent last confirmed more than 90 days ago gets
one ``resource-update`` event for the account-access-consent; running the job again sends nothing; a
re-authorisation starts a new period, announced again when it is due."""

# ruff: noqa: F811  (pytest fixtures imported by name are parameters of the tests below)

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from consent import status_changes
from consent.models import Consent
from consent.notifications import EventType
from gateway.events.reconfirmation_job import ReconfirmationNotices
from gateway.store.db import utcnow
from sandbox.customers import customer_id
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import gateway_app  # noqa: F401
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
from tests.integration.events.test_payment_status_events import events_of
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.test_sandbox_controls import authorised_account_consent
from tests.integration.test_sandbox_controls import settings  # noqa: F401  (fixture)


async def confirmed_days_ago(db: Any, consent_id: str, days: int) -> None:
    async with db.session() as session:
        await session.exec(update(Consent).where(col(Consent.consent_id) == consent_id)
                           .values(authorised_at=utcnow() - timedelta(days=days)))
        await session.commit()


async def test_a_consent_confirmed_91_days_ago_is_announced_once(tpp: Tpp, db, settings) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_account_consent(tpp)
    job = ReconfirmationNotices(db=db, settings=settings)
    assert await job.run_once() == 0  # just approved: not due
    await confirmed_days_ago(db, consent_id, 91)
    assert await job.run_once() == 1
    assert await job.run_once() == 0  # the same period is never announced twice
    [event] = await events_of(db, consent_id)
    assert event.event_type == EventType.RESOURCE_UPDATE.value
    assert event.resource_type == "account-access-consent"
    assert event.client_id == tpp.fapi.client_id


async def test_a_consent_confirmed_89_days_ago_is_not_announced(tpp: Tpp, db, settings) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_account_consent(tpp)
    await confirmed_days_ago(db, consent_id, 89)
    assert await ReconfirmationNotices(db=db, settings=settings).run_once() == 0
    assert await events_of(db, consent_id) == []


async def test_a_reauthorisation_starts_a_new_period(tpp: Tpp, db, settings) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_account_consent(tpp)
    await confirmed_days_ago(db, consent_id, 200)
    now = utcnow()
    assert await ReconfirmationNotices(db=db, settings=settings, clock=lambda: now).run_once() == 1
    reauthorised_at = now - timedelta(days=10)
    async with db.session() as session:
        await status_changes.reauthorise(session=session, consent_id=consent_id, client_id=tpp.fapi.client_id,
                                         psu_id=customer_id(username=PSU_USERNAME), now=reauthorised_at)
    assert await ReconfirmationNotices(db=db, settings=settings, clock=lambda: now).run_once() == 0
    later = reauthorised_at + timedelta(days=91)
    job = ReconfirmationNotices(db=db, settings=settings, clock=lambda: later)
    assert await job.run_once() == 1  # the re-authorisation's own period is due now
    assert await job.run_once() == 0
    assert len(await events_of(db, consent_id)) == 2


async def test_a_revoked_consent_is_not_announced(tpp: Tpp, db, settings) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_account_consent(tpp)
    assert (await tpp.call("POST", f"/sandbox/v1/consents/{consent_id}/revoke", check=False)).status_code == 200
    await confirmed_days_ago(db, consent_id, 91)
    before = len(await events_of(db, consent_id))  # the revocation's own event
    assert await ReconfirmationNotices(db=db, settings=settings).run_once() == 0
    assert len(await events_of(db, consent_id)) == before
