"""Payment-consent idempotency (R/W API "Idempotency": same key within 24 h is a replay; docs/obie-notes.md section 5)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import service
from consent.errors import ConsentError
from consent.models import Consent
from consent.models import ConsentEvent

TPP = "client-a"
DATA: dict[str, Any] = {
    "Initiation": {
        "InstructionIdentification": "ACME412",
        "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                            "Name": "ACME Inc"},
    }
}  # fmt: skip
RISK: dict[str, Any] = {"PaymentContextCode": "EcommerceGoods"}
# The shipped rulebook's lifetimes.idempotency_key (policies/fapi.yaml), which the gateway passes in.
WINDOW = timedelta(hours=24)


async def create(session: AsyncSession, now: datetime, **overrides: Any) -> Consent:
    arguments: dict[str, Any] = {
        "session": session, "client_id": TPP, "kind": "domestic-payment", "data": DATA, "risk": RISK,
        "idempotency_key": "key-1", "request_hash": "sha256-of-body-1", "now": now,
        "idempotency_window": WINDOW,
    }  # fmt: skip
    return await service.create_payment_consent(**{**arguments, **overrides})


async def count(session: AsyncSession) -> tuple[int, int]:
    consents = (await session.exec(select(Consent))).all()
    events = (await session.exec(select(ConsentEvent))).all()
    return len(consents), len(events)


async def test_same_key_and_body_within_24_hours_returns_the_same_consent(session: AsyncSession, now: datetime) -> None:
    first = await create(session, now)
    replay = await create(session, now + timedelta(hours=23, minutes=59))
    assert replay.consent_id == first.consent_id
    assert await count(session) == (1, 1)


async def test_same_key_other_body_is_refused_and_nothing_is_created(session: AsyncSession, now: datetime) -> None:
    first = await create(session, now)
    with pytest.raises(ConsentError) as error:
        await create(session, now + timedelta(seconds=5), request_hash="sha256-of-body-2")
    assert (error.value.status_code, error.value.ob_code) == (400, "UK.OBIE.Header.Invalid")
    assert error.value.path == "x-idempotency-key"
    assert await count(session) == (1, 1)
    stored = await service.get_consent(session=session, consent_id=first.consent_id, client_id=TPP)
    assert stored.request_hash == "sha256-of-body-1"


async def test_same_key_for_another_kind_of_consent_is_refused(session: AsyncSession, now: datetime) -> None:
    await create(session, now)
    with pytest.raises(ConsentError) as error:
        await create(session, now, kind="domestic-standing-order", data={**DATA, "Permission": "Create"})
    assert (error.value.status_code, error.value.ob_code) == (400, "UK.OBIE.Header.Invalid")
    assert await count(session) == (1, 1)


async def test_key_is_scoped_to_the_client(session: AsyncSession, now: datetime) -> None:
    mine = await create(session, now)
    theirs = await create(session, now, client_id="client-b")
    assert mine.consent_id != theirs.consent_id


async def test_key_older_than_24_hours_creates_a_new_consent(session: AsyncSession, now: datetime) -> None:
    first = await create(session, now)
    second = await create(session, now + timedelta(hours=24), request_hash="sha256-of-body-2")
    assert second.consent_id != first.consent_id
    assert await count(session) == (2, 2)


async def test_the_window_is_the_one_given(session: AsyncSession, now: datetime) -> None:
    # The rulebook's lifetimes.idempotency_key decides; here a 5-minute window.
    first = await create(session, now, idempotency_window=timedelta(minutes=5))
    replay = await create(session, now + timedelta(minutes=4), idempotency_window=timedelta(minutes=5))
    assert replay.consent_id == first.consent_id
    later = await create(session, now + timedelta(minutes=5), idempotency_window=timedelta(minutes=5))
    assert later.consent_id != first.consent_id


@pytest.mark.parametrize(
    "key",
    ["", " leading", "trailing ", "k" * 41],
    ids=["empty", "leading-space", "trailing-space", "longer-than-40"],
)
async def test_malformed_idempotency_key_is_refused(session: AsyncSession, now: datetime, key: str) -> None:
    with pytest.raises(ConsentError) as error:
        await create(session, now, idempotency_key=key)
    assert (error.value.status_code, error.value.ob_code) == (400, "UK.OBIE.Header.Invalid")
    assert await count(session) == (0, 0)


@pytest.mark.parametrize(
    ("overrides", "code", "path"),
    [
        ({"data": {}}, "UK.OBIE.Field.Missing", "Data.Initiation"),
        ({"data": {"Initiation": "pay"}}, "UK.OBIE.Field.Invalid", "Data.Initiation"),
        ({"risk": None}, "UK.OBIE.Field.Missing", "Risk"),
        ({"kind": "domestic-scheduled-payment"}, "UK.OBIE.Field.Invalid", "Data.Permission"),
        ({"kind": "account-access"}, "UK.OBIE.Field.Invalid", None),
    ],
    ids=["no-initiation", "initiation-not-an-object", "no-risk", "scheduled-without-permission-create",
         "not-a-payment-kind"],
)  # fmt: skip
async def test_malformed_payment_consent_is_refused(
    session: AsyncSession, now: datetime, overrides: dict[str, Any], code: str, path: str | None
) -> None:
    with pytest.raises(ConsentError) as error:
        await create(session, now, **overrides)
    assert (error.value.status_code, error.value.ob_code, error.value.path) == (400, code, path)
    assert await count(session) == (0, 0)
