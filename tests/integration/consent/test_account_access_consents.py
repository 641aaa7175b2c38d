"""POST/GET/DELETE /aisp/account-access-consents (R/W API v3.1.11 account-access-consents, AISP profile
"Permissions", docs/obie-notes.md sections 2.1 and 3.1); every response checked against account-info-openapi."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml

from gateway.contract import derive as openapi_derive
from gateway.contract import specs as openapi_specs
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import CBPII
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import funds_body


async def test_create_answers_201_awaiting_authorisation_echoing_the_request(tpp: Tpp) -> None:
    body = account_access_body()
    response = await tpp.create(AISP, body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    document = response.json()
    data = document["Data"]
    assert data["ConsentId"].startswith("aac-")
    assert data["Status"] == "AwaitingAuthorisation"
    for name in ("Permissions", "ExpirationDateTime", "TransactionFromDateTime", "TransactionToDateTime"):
        assert data[name] == body["Data"][name]
    # R/W API "Date Formats": response date-times carry a time zone.
    for name in ("CreationDateTime", "StatusUpdateDateTime"):
        assert datetime.fromisoformat(data[name]).tzinfo is not None
    assert document["Risk"] == {}
    assert document["Links"] == {"Self": f"http://127.0.0.1:8000{AISP}/{data['ConsentId']}"}
    assert document["Meta"] == {}


async def test_optional_fields_the_tpp_left_out_are_omitted_not_null(tpp: Tpp) -> None:
    response = await tpp.create(AISP, {"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}})
    assert response.status_code == 201, response.text
    data = response.json()["Data"]
    for name in ("ExpirationDateTime", "TransactionFromDateTime", "TransactionToDateTime"):
        assert name not in data
    assert None not in data.values()


async def test_the_expiration_is_echoed_exactly_as_sent(tpp: Tpp) -> None:
    # AISP profile "Expiration Date Time": the ASPSP must not modify it.
    sent = "2099-01-02T03:04:05.999-07:00"
    response = await tpp.create(AISP, account_access_body(ExpirationDateTime=sent))
    assert response.status_code == 201, response.text
    assert response.json()["Data"]["ExpirationDateTime"] == sent


async def test_get_returns_the_consent(tpp: Tpp) -> None:
    created = (await tpp.create(AISP, account_access_body())).json()
    consent_id = created["Data"]["ConsentId"]
    response = await tpp.call("GET", f"{AISP}/{consent_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == created


async def test_create_is_not_idempotent(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    # AISP profile: account-access-consents POST is not idempotent; each POST is a new consent.
    first = await tpp.create(AISP, account_access_body(), key="same-key")
    second = await tpp.create(AISP, account_access_body(), key="same-key")
    assert first.status_code == second.status_code == 201
    assert first.json()["Data"]["ConsentId"] != second.json()["Data"]["ConsentId"]
    assert await consent_count(db, tpp.fapi.client_id) == 2


async def test_delete_answers_204_and_a_later_get_is_400_not_found(tpp: Tpp) -> None:
    consent_id = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    deleted = await tpp.call("DELETE", f"{AISP}/{consent_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    # AAC "Account Access Consent Status": a deleted consent is gone; GET after DELETE -> 400.
    assert_ob_error(await tpp.call("GET", f"{AISP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await tpp.call("DELETE", f"{AISP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")


async def test_unknown_consent_id_is_400_not_found(tpp: Tpp) -> None:
    assert_ob_error(await tpp.call("GET", f"{AISP}/aac-does-not-exist"), 400, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await tpp.call("DELETE", f"{AISP}/aac-does-not-exist"), 400, "UK.OBIE.Resource.NotFound")


async def test_a_consent_of_another_kind_is_not_found_here(tpp: Tpp) -> None:
    funds = await tpp.create(CBPII, funds_body())
    consent_id = funds.json()["Data"]["ConsentId"]
    assert_ob_error(await tpp.call("GET", f"{AISP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await tpp.call("DELETE", f"{AISP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")
    # and it was not deleted by the refused call
    assert (await tpp.call("GET", f"{CBPII}/{consent_id}")).status_code == 200


async def test_another_clients_consent_is_403_and_stays(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    assert_ob_error(await other_tpp.call("GET", f"{AISP}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await other_tpp.call("DELETE", f"{AISP}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")
    assert (await tpp.call("GET", f"{AISP}/{consent_id}")).status_code == 200


@pytest.mark.parametrize(
    "permissions",
    [
        ["ReadBalances"],
        ["ReadAccountsBasic", "ReadTransactionsBasic"],
        ["ReadAccountsBasic", "ReadTransactionsDebits"],
        ["ReadAccountsBasic", "ReadAccountsBasic"],
    ],
    ids=["no-accounts-permission", "transactions-without-direction", "direction-without-level", "duplicate"],
)
async def test_invalid_permission_combination_is_400_field_invalid(tpp: Tpp, db, permissions: list[str]) -> None:  # type: ignore[no-untyped-def]
    # AISP profile "Permissions": the ASPSP rejects these combinations with 400.
    response = await tpp.create(AISP, account_access_body(Permissions=permissions))
    assert_ob_error(response, 400, "UK.OBIE.Field.Invalid", "Data.Permissions")
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_empty_permissions_are_refused(tpp: Tpp) -> None:
    response = await tpp.create(AISP, account_access_body(Permissions=[]))
    assert_ob_error(response, 400, "UK.OBIE.Field.Invalid", "Data.Permissions")


async def test_unknown_permission_is_400_field_invalid_at_its_index(tpp: Tpp) -> None:
    response = await tpp.create(AISP, account_access_body(Permissions=["ReadAccountsBasic", "ReadEverything"]))
    assert_ob_error(response, 400, "UK.OBIE.Field.Invalid", "Data.Permissions[1]")


async def test_missing_permissions_is_400_field_missing(tpp: Tpp) -> None:
    response = await tpp.create(AISP, {"Data": {}, "Risk": {}})
    assert_ob_error(response, 400, "UK.OBIE.Field.Missing", "Data.Permissions")


async def test_missing_risk_is_400_field_missing(tpp: Tpp) -> None:
    response = await tpp.create(AISP, {"Data": {"Permissions": ["ReadAccountsBasic"]}})
    assert_ob_error(response, 400, "UK.OBIE.Field.Missing", "Risk")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}, "Risk": {}}', b"\xff\xfe"],
    ids=["syntax", "array", "duplicate-member", "not-utf8"],
)
async def test_malformed_body_is_400_invalid_format(tpp: Tpp, content: bytes) -> None:
    response = await tpp.call("POST", AISP, content=content)
    assert_ob_error(response, 400, "UK.OBIE.Resource.InvalidFormat")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ExpirationDateTime", "2099-01-01T00:00:00"),
        ("ExpirationDateTime", "tomorrow"),
        ("ExpirationDateTime", "2000-01-01T00:00:00+00:00"),
        ("TransactionFromDateTime", "2024-13-01T00:00:00+00:00"),
    ],
    ids=["no-offset", "not-a-date", "in-the-past", "month-13"],
)
async def test_bad_dates_are_400_invalid_date(tpp: Tpp, field: str, value: str) -> None:
    response = await tpp.create(AISP, account_access_body(**{field: value}))
    assert_ob_error(response, 400, "UK.OBIE.Field.InvalidDate", f"Data.{field}")


async def test_transaction_window_ending_before_it_starts_is_400_invalid_date(tpp: Tpp) -> None:
    body = account_access_body(
        TransactionFromDateTime="2025-01-01T00:00:00+00:00", TransactionToDateTime="2024-01-01T00:00:00+00:00"
    )
    assert_ob_error(await tpp.create(AISP, body), 400, "UK.OBIE.Field.InvalidDate", "Data.TransactionToDateTime")


async def test_body_is_read_as_json_regardless_of_formatting(tpp: Tpp) -> None:
    content = json.dumps(account_access_body(), indent=4).encode()
    response = await tpp.call("POST", AISP, content=content)
    assert response.status_code == 201, response.text


async def test_answering_a_request_parses_no_openapi_document(tpp: Tpp, monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/architecture.md section 3, hot path rule: the served documents were derived and validated at start-up;
    # checking a body against its schema reads and derives nothing.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a YAML document was parsed while answering a request")

    monkeypatch.setattr(yaml, "load", refuse)
    monkeypatch.setattr(openapi_specs, "read_yaml", refuse)
    monkeypatch.setattr(openapi_derive, "served_document", refuse)
    assert_ob_error(await tpp.create(AISP, {"Data": {}, "Risk": {}}), 400, "UK.OBIE.Field.Missing", "Data.Permissions")
    assert (await tpp.create(AISP, account_access_body())).status_code == 201
