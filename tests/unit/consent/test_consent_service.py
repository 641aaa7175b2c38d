"""The consent service: create, read, authorise, reject, revoke, delete, consume, expire and check access."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import service
from consent.access import LoadedConsent
from consent.errors import ConsentError
from consent.errors import ConsentExpired
from consent.models import Consent
from consent.models import ConsentEvent

TPP = "client-a"
OTHER_TPP = "client-b"
PSU = "psu-alice"
OTHER_PSU = "psu-bob"
ALICE_ACCOUNTS = ["acc-1", "acc-2", "acc-3"]

AIS_DATA: dict[str, Any] = {
    "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsBasic", "ReadTransactionsCredits"],
    "ExpirationDateTime": "2026-12-12T10:00:00+00:00",
    "TransactionFromDateTime": "2026-01-01T00:00:00+00:00",
    "TransactionToDateTime": "2026-05-31T23:59:59+01:00",
}
PAYMENT_DATA: dict[str, Any] = {
    "Initiation": {
        "InstructionIdentification": "ACME412",
        "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
        "CreditorAccount": {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber",
            "Identification": "08080021325698",
            "Name": "ACME Inc",
        },
        "RemittanceInformation": {"Reference": "FRESCO-101", "Unstructured": "Internal ops code 5120101"},
    }
}
RISK: dict[str, Any] = {"PaymentContextCode": "EcommerceGoods", "MerchantCategoryCode": "5967"}


def refused(error: pytest.ExceptionInfo[ConsentError], status: int, code: str) -> None:
    assert (error.value.status_code, error.value.ob_code) == (status, code)


async def events(session: AsyncSession, consent_id: str) -> list[str]:
    rows = await session.exec(select(ConsentEvent).where(ConsentEvent.consent_id == consent_id))
    return [r.event for r in rows.all()]


@pytest.fixture
def create_ais(session: AsyncSession, now: datetime) -> Callable[..., Any]:
    async def create(client_id: str = TPP, **overrides: Any) -> Consent:
        return await service.create_account_access_consent(
            session=session, client_id=client_id, data={**AIS_DATA, **overrides}, risk={}, now=now
        )

    return create


@pytest.fixture
def authorised_ais(session: AsyncSession, now: datetime, create_ais: Callable[..., Any]) -> Callable[..., Any]:
    async def create(accounts: list[str] | None = None, **overrides: Any) -> Consent:
        consent = await create_ais(**overrides)
        return await service.authorise(
            session=session,
            consent_id=consent.consent_id,
            client_id=TPP,
            psu_id=PSU,
            account_ids=accounts or ["acc-1"],
            available_account_ids=ALICE_ACCOUNTS,
            now=now,
        )

    return create


# --------------------------------------------------------------------------- creation and reading


async def test_account_access_consent_is_created_awaiting_authorisation(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any]
) -> None:
    consent = await create_ais()
    assert consent.consent_id.startswith("aac-")
    assert consent.status == "AwaitingAuthorisation"
    assert consent.data == AIS_DATA
    assert consent.expires_at == datetime.fromisoformat("2026-12-12T10:00:00+00:00")
    assert consent.transaction_to == datetime.fromisoformat("2026-05-31T22:59:59+00:00")
    assert consent.created_at == now == consent.status_updated_at
    fetched = await service.get_consent(session=session, consent_id=consent.consent_id, client_id=TPP)
    assert fetched.permissions == AIS_DATA["Permissions"]
    assert await events(session, consent.consent_id) == ["created"]


@pytest.mark.parametrize(
    ("overrides", "status", "code", "path"),
    [
        ({"Permissions": ["ReadBalances"]}, 400, "UK.OBIE.Field.Invalid", "Data.Permissions"),
        ({"Permissions": "ReadAccountsBasic"}, 400, "UK.OBIE.Field.Invalid", "Data.Permissions"),
        ({"Permissions": None}, 400, "UK.OBIE.Field.Missing", "Data.Permissions"),
        ({"ExpirationDateTime": "2026-02-01T00:00:00+00:00"}, 400, "UK.OBIE.Field.InvalidDate",
         "Data.ExpirationDateTime"),
        ({"ExpirationDateTime": "2026-12-12T10:00:00"}, 400, "UK.OBIE.Field.InvalidDate",
         "Data.ExpirationDateTime"),
        ({"ExpirationDateTime": "next tuesday"}, 400, "UK.OBIE.Field.InvalidDate", "Data.ExpirationDateTime"),
        ({"TransactionFromDateTime": "2026-06-01T00:00:00+00:00"}, 400, "UK.OBIE.Field.InvalidDate",
         "Data.TransactionToDateTime"),
    ],
    ids=["permission-rule", "permissions-not-a-list", "permissions-missing", "expiry-in-the-past",
         "expiry-without-offset", "expiry-not-a-date", "window-ends-before-it-starts"],
)  # fmt: skip
async def test_invalid_account_access_request_is_refused_and_nothing_is_stored(
    session: AsyncSession, create_ais: Callable[..., Any], overrides: dict[str, Any], status: int, code: str,
    path: str,
) -> None:  # fmt: skip
    with pytest.raises(ConsentError) as error:
        await create_ais(**overrides)
    refused(error, status, code)
    assert error.value.path == path
    assert (await session.exec(select(Consent))).all() == []


async def test_another_clients_consent_is_forbidden(session: AsyncSession, create_ais: Callable[..., Any]) -> None:
    consent = await create_ais()
    with pytest.raises(ConsentError) as error:
        await service.get_consent(session=session, consent_id=consent.consent_id, client_id=OTHER_TPP)
    refused(error, 403, "UK.OBIE.Resource.NotFound")


async def test_unknown_consent_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(ConsentError) as error:
        await service.get_consent(session=session, consent_id="aac-nope", client_id=TPP)
    refused(error, 400, "UK.OBIE.Resource.NotFound")


async def test_funds_confirmation_consent_needs_a_debtor_account(session: AsyncSession, now: datetime) -> None:
    debtor = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "11280001234567"}
    consent = await service.create_funds_confirmation_consent(
        session=session, client_id=TPP, data={"DebtorAccount": debtor}, now=now
    )
    assert consent.consent_id.startswith("fcc-")
    assert consent.debtor_account == debtor
    with pytest.raises(ConsentError) as error:
        await service.create_funds_confirmation_consent(session=session, client_id=TPP, data={}, now=now)
    refused(error, 400, "UK.OBIE.Field.Missing")
    assert error.value.path == "Data.DebtorAccount"


# --------------------------------------------------------------------------- the customer's decision


async def test_authorise_records_customer_and_chosen_accounts(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any]
) -> None:
    consent = await create_ais()
    later = now + timedelta(minutes=2)
    await service.authorise(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU,
        account_ids=["acc-2", "acc-1"], available_account_ids=ALICE_ACCOUNTS, now=later,
    )  # fmt: skip
    stored = await service.get_consent(session=session, consent_id=consent.consent_id, client_id=TPP)
    assert (stored.status, stored.psu_id, stored.status_updated_at) == ("Authorised", PSU, later)
    assert await service.consented_accounts(session=session, consent_id=consent.consent_id) == ("acc-1", "acc-2")
    assert await events(session, consent.consent_id) == ["created", "authorised"]


@pytest.mark.parametrize(
    ("account_ids", "message"),
    [
        ([], "at least one"),
        (["acc-bob-1"], "cannot be shared"),
        (["acc-1", "acc-bob-1"], "cannot be shared"),
        (["acc-1", "acc-1"], "more than once"),
    ],
    ids=["no-account", "another-customers-account", "one-foreign-among-own", "duplicate"],
)
async def test_authorise_refuses_accounts_that_are_not_the_customers(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any], account_ids: list[str], message: str
) -> None:
    consent = await create_ais()
    with pytest.raises(ConsentError) as error:
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU,
            account_ids=account_ids, available_account_ids=ALICE_ACCOUNTS, now=now,
        )  # fmt: skip
    refused(error, 400, "UK.OBIE.Field.Invalid")
    assert message in error.value.message
    stored = await service.get_consent(session=session, consent_id=consent.consent_id, client_id=TPP)
    assert stored.status == "AwaitingAuthorisation"
    assert await service.consented_accounts(session=session, consent_id=consent.consent_id) == ()


async def test_authorise_twice_is_refused(session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]) -> None:
    consent = await authorised_ais()
    with pytest.raises(ConsentError) as error:
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU,
            account_ids=["acc-2"], available_account_ids=ALICE_ACCOUNTS, now=now,
        )  # fmt: skip
    refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_authorise_after_expiry_is_refused(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any]
) -> None:
    consent = await create_ais(ExpirationDateTime="2026-03-01T10:00:00+00:00")
    with pytest.raises(ConsentError) as error:
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
            available_account_ids=ALICE_ACCOUNTS, now=now + timedelta(hours=1),
        )  # fmt: skip
    refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_reject_is_terminal_for_authorisation(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any]
) -> None:
    consent = await create_ais()
    await service.reject(session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now)
    assert consent.status == "Rejected"
    with pytest.raises(ConsentError) as error:
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
            available_account_ids=ALICE_ACCOUNTS, now=now,
        )  # fmt: skip
    refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")
    assert await events(session, consent.consent_id) == ["created", "rejected"]


# --------------------------------------------------------------------------- revoke and delete


async def test_customer_revokes_own_consent_and_access_stops(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais()
    await service.revoke(session=session, consent_id=consent.consent_id, psu_id=PSU, now=now)
    assert consent.status == "Revoked"
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
            endpoint="/accounts",
        )  # fmt: skip
    refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")
    assert await events(session, consent.consent_id) == ["created", "authorised", "revoked"]


async def test_customer_cannot_revoke_another_customers_consent(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais()
    with pytest.raises(ConsentError) as error:
        await service.revoke(session=session, consent_id=consent.consent_id, psu_id=OTHER_PSU, now=now)
    refused(error, 400, "UK.OBIE.Resource.NotFound")
    assert consent.status == "Authorised"


async def test_revoke_all_for_client_spares_other_clients(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any], authorised_ais: Callable[..., Any]
) -> None:
    first, second = await authorised_ais(), await authorised_ais()
    other = await create_ais(client_id=OTHER_TPP)
    await service.authorise(
        session=session, consent_id=other.consent_id, client_id=OTHER_TPP, psu_id=PSU, account_ids=["acc-1"],
        available_account_ids=ALICE_ACCOUNTS, now=now,
    )  # fmt: skip
    revoked = await service.revoke_all_for_client(session=session, psu_id=PSU, client_id=TPP, now=now)
    assert sorted(revoked) == sorted([first.consent_id, second.consent_id])
    assert other.status == "Authorised"


async def test_deleted_consent_reads_as_not_found(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais()
    await service.delete(session=session, consent_id=consent.consent_id, client_id=TPP, now=now)
    with pytest.raises(ConsentError) as error:
        await service.get_consent(session=session, consent_id=consent.consent_id, client_id=TPP)
    refused(error, 400, "UK.OBIE.Resource.NotFound")
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
            endpoint="/accounts",
        )  # fmt: skip
    refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_another_client_cannot_delete(session: AsyncSession, now: datetime, create_ais: Callable[..., Any]) -> None:
    consent = await create_ais()
    with pytest.raises(ConsentError) as error:
        await service.delete(session=session, consent_id=consent.consent_id, client_id=OTHER_TPP, now=now)
    refused(error, 403, "UK.OBIE.Resource.NotFound")
    assert consent.status == "AwaitingAuthorisation"


# --------------------------------------------------------------------------- payment consents


async def _authorised_payment(session: AsyncSession, now: datetime, key: str = "key-1") -> Consent:
    consent = await service.create_payment_consent(
        session=session, client_id=TPP, kind="domestic-payment", data=PAYMENT_DATA, risk=RISK,
        idempotency_key=key, request_hash="hash-" + key, now=now, idempotency_window=timedelta(hours=24),
    )  # fmt: skip
    return await service.authorise(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
        available_account_ids=ALICE_ACCOUNTS, now=now,
    )  # fmt: skip


async def test_payment_consent_keeps_initiation_and_risk_as_received(session: AsyncSession, now: datetime) -> None:
    consent = await _authorised_payment(session, now)
    assert consent.consent_id.startswith("pdc-")
    session.expunge_all()
    stored = await service.get_consent(session=session, consent_id=consent.consent_id, client_id=TPP)
    assert stored.data == PAYMENT_DATA
    assert stored.risk == RISK


async def test_consume_is_exactly_once(session: AsyncSession, now: datetime) -> None:
    consent = await _authorised_payment(session, now)
    await service.consume(session=session, consent_id=consent.consent_id, client_id=TPP, now=now)
    assert consent.status == "Consumed"
    with pytest.raises(ConsentError) as error:
        await service.consume(session=session, consent_id=consent.consent_id, client_id=TPP, now=now)
    refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")
    assert await events(session, consent.consent_id) == ["created", "authorised", "consumed"]


async def test_consume_with_a_stale_copy_loses_the_conditional_update(
    sessions: Callable[[], AsyncSession], now: datetime
) -> None:
    async with sessions() as first, sessions() as second:
        consent = await _authorised_payment(first, now)
        stale = await second.get(Consent, consent.consent_id)
        assert stale is not None and stale.status == "Authorised"
        await service.consume(session=first, consent_id=consent.consent_id, now=now)
        # ``second`` still believes the consent is Authorised; the database says otherwise.
        with pytest.raises(ConsentError) as error:
            await service.consume(session=second, consent_id=consent.consent_id, now=now)
        refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")
        assert (await events(second, consent.consent_id)).count("consumed") == 1


async def test_account_access_consent_cannot_be_consumed(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais()
    with pytest.raises(ConsentError) as error:
        await service.consume(session=session, consent_id=consent.consent_id, now=now)
    refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_payment_consent_cannot_be_revoked_by_the_customer(session: AsyncSession, now: datetime) -> None:
    consent = await _authorised_payment(session, now)
    with pytest.raises(ConsentError) as error:
        await service.revoke(session=session, consent_id=consent.consent_id, psu_id=PSU, now=now)
    refused(error, 400, "UK.OBIE.Resource.InvalidConsentStatus")
    assert consent.status == "Authorised"


async def test_payment_consent_needs_exactly_one_account(session: AsyncSession, now: datetime) -> None:
    consent = await service.create_payment_consent(
        session=session, client_id=TPP, kind="domestic-payment", data=PAYMENT_DATA, risk=RISK,
        idempotency_key="k", request_hash="h", now=now, idempotency_window=timedelta(hours=24),
    )  # fmt: skip
    with pytest.raises(ConsentError) as error:
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU,
            account_ids=["acc-1", "acc-2"], available_account_ids=ALICE_ACCOUNTS, now=now,
        )  # fmt: skip
    refused(error, 400, "UK.OBIE.Field.Invalid")


# --------------------------------------------------------------------------- check_access


async def test_check_access_grants_what_was_consented(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais(accounts=["acc-1", "acc-3"])
    grant = await service.check_access(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
        endpoint="/accounts/{AccountId}/transactions", account_id="acc-3",
    )  # fmt: skip
    assert grant.account_ids == ("acc-1", "acc-3")
    assert grant.permissions == frozenset(AIS_DATA["Permissions"])
    assert grant.transaction_from == datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    assert grant.psu_id == PSU


@pytest.mark.parametrize(
    ("client_id", "psu_id", "endpoint", "account_id", "status", "code"),
    [
        (OTHER_TPP, PSU, "/accounts", None, 403, "UK.OBIE.Resource.NotFound"),
        (TPP, OTHER_PSU, "/accounts", None, 403, "UK.OBIE.Resource.NotFound"),
        (TPP, PSU, "/accounts/{AccountId}/beneficiaries", "acc-1", 403, "UK.OBIE.Resource.InvalidConsentStatus"),
        (TPP, PSU, "/party", None, 403, "UK.OBIE.Resource.InvalidConsentStatus"),
        (TPP, PSU, "/accounts/{AccountId}/balances", "acc-2", 403, "UK.OBIE.Resource.NotFound"),
        (TPP, PSU, "/accounts/{AccountId}/balances", "acc-bob-1", 403, "UK.OBIE.Resource.NotFound"),
        (TPP, PSU, "/domestic-payments", None, 403, "UK.OBIE.Resource.InvalidConsentStatus"),
    ],
    ids=["another-client", "another-customer", "permission-not-granted", "party-needs-read-party-psu",
         "account-not-consented", "foreign-account", "ais-consent-on-payment-endpoint"],
)  # fmt: skip
async def test_check_access_refusals(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any], client_id: str, psu_id: str,
    endpoint: str, account_id: str | None, status: int, code: str,
) -> None:  # fmt: skip
    consent = await authorised_ais(accounts=["acc-1"])
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=client_id, psu_id=psu_id, now=now,
            endpoint=endpoint, account_id=account_id,
        )  # fmt: skip
    refused(error, status, code)


async def test_check_access_checks_a_consent_the_caller_already_loaded(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais(accounts=["acc-1"])
    loaded = LoadedConsent(consent=consent, account_ids=("acc-1",))
    grant = await service.check_access(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
        endpoint="/accounts/{AccountId}/balances", account_id="acc-1", loaded=loaded,
    )  # fmt: skip
    assert grant.account_ids == ("acc-1",)
    # The same checks run on it: an account outside what was loaded is refused.
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
            endpoint="/accounts/{AccountId}/balances", account_id="acc-2", loaded=loaded,
        )  # fmt: skip
    refused(error, 403, "UK.OBIE.Resource.NotFound")


async def test_check_access_refuses_a_loaded_consent_that_is_not_the_one_named(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    named = await authorised_ais(accounts=["acc-1"])
    other = await authorised_ais(accounts=["acc-1"])
    for loaded in (LoadedConsent(consent=other, account_ids=("acc-1",)), LoadedConsent(consent=None, account_ids=())):
        with pytest.raises(ConsentError) as error:
            await service.check_access(
                session=session, consent_id=named.consent_id, client_id=TPP, psu_id=PSU, now=now,
                endpoint="/accounts", loaded=loaded,
            )  # fmt: skip
        refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_check_access_refuses_a_consent_awaiting_authorisation(
    session: AsyncSession, now: datetime, create_ais: Callable[..., Any]
) -> None:
    consent = await create_ais()
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now, endpoint="/accounts"
        )
    refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")


async def test_check_access_enforces_expiry_and_records_it(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais(ExpirationDateTime="2026-03-02T00:00:00+00:00")
    await service.check_access(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now, endpoint="/accounts"
    )
    after = datetime.fromisoformat("2026-03-02T00:00:00+00:00")
    for _ in range(2):
        with pytest.raises(ConsentExpired) as error:
            await service.check_access(
                session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=after,
                endpoint="/accounts",
            )  # fmt: skip
        refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")
    assert consent.status == "Expired"
    assert await events(session, consent.consent_id) == ["created", "authorised", "expired"]


async def test_expire_due_marks_only_passed_consents(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    soon = await authorised_ais(ExpirationDateTime="2026-03-01T12:00:00+00:00")
    later = await authorised_ais(ExpirationDateTime="2026-09-01T12:00:00+00:00")
    expired = await service.expire_due(session=session, now=datetime.fromisoformat("2026-03-01T12:00:00+00:00"))
    assert expired == [soon.consent_id]
    assert (soon.status, later.status) == ("Expired", "Authorised")


async def test_funds_confirmation_consent_grants_only_funds_confirmations(session: AsyncSession, now: datetime) -> None:
    debtor = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "11280001234567"}
    consent = await service.create_funds_confirmation_consent(
        session=session, client_id=TPP, data={"DebtorAccount": debtor}, now=now
    )
    await service.authorise(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
        available_account_ids=ALICE_ACCOUNTS, now=now,
    )  # fmt: skip
    grant = await service.check_access(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now,
        endpoint="/funds-confirmations",
    )  # fmt: skip
    assert grant.kind == "funds-confirmation"
    with pytest.raises(ConsentError) as error:
        await service.check_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, now=now, endpoint="/accounts"
        )
    refused(error, 403, "UK.OBIE.Resource.InvalidConsentStatus")


# --------------------------------------------------------------------------- access log and dashboard


async def test_record_access_feeds_the_dashboard_and_export(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent = await authorised_ais(accounts=["acc-1", "acc-2"])
    used = now + timedelta(hours=3)
    await service.record_access(
        session=session, consent_id=consent.consent_id, client_id=TPP,
        endpoint="/accounts/{AccountId}/balances", customer_present=False, now=used,
    )  # fmt: skip
    clients = await service.list_for_customer(session=session, psu_id=PSU, now=used)
    assert [c.client_id for c in clients] == [TPP]
    summary = clients[0].consents[0]
    assert summary.status == "Authorised" and summary.revocable
    assert summary.account_ids == ("acc-1", "acc-2")
    assert summary.last_accessed_at == used
    assert summary.last_access_endpoint == "/accounts/{AccountId}/balances"
    assert [h.event for h in summary.history] == ["created", "authorised", "accessed"]
    assert summary.history[-1].detail == {"endpoint": "/accounts/{AccountId}/balances", "customer_present": False}
    assert summary.groups[-1].title == "Until 12 December 2026"

    exported = await service.export_for_customer(session=session, psu_id=PSU, now=used)
    assert exported["consents"][0]["last_accessed_at"] == "2026-03-01T12:30:00+00:00"
    assert exported["consents"][0]["history"][-1]["event"] == "accessed"
    import json

    json.dumps(exported)  # JSON-ready: no datetimes or dataclasses left


async def test_record_access_by_another_client_is_refused(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    consent_id = (await authorised_ais()).consent_id
    with pytest.raises(ConsentError) as error:
        await service.record_access(
            session=session, consent_id=consent_id, client_id=OTHER_TPP, endpoint="/accounts",
            customer_present=True, now=now,
        )  # fmt: skip
    refused(error, 400, "UK.OBIE.Resource.NotFound")
    assert "accessed" not in await events(session, consent_id)


async def test_dashboard_shows_an_expired_consent_as_expired_and_not_revocable(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    await authorised_ais(ExpirationDateTime="2026-03-01T10:00:00+00:00")
    clients = await service.list_for_customer(session=session, psu_id=PSU, now=now + timedelta(hours=1))
    summary = clients[0].consents[0]
    assert summary.status == "Expired"
    assert summary.revocable is False


async def test_dashboard_lists_only_the_customers_own_consents(
    session: AsyncSession, now: datetime, authorised_ais: Callable[..., Any]
) -> None:
    await authorised_ais()
    assert await service.list_for_customer(session=session, psu_id=OTHER_PSU, now=now) == []
