"""POST/GET/DELETE /cbpii/funds-confirmation-consents (R/W API v3.1.11 funds-confirmation-consent,
docs/obie-notes.md sections 2.3 and 3.3, FCS OB-301-CBPII-000001..000012); every response checked against confirmation-funds-openapi."""

from __future__ import annotations

import pytest

from tests.integration.consent.conftest import CBPII
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import funds_body


async def test_create_answers_201_awaiting_authorisation_in_json_utf8(tpp: Tpp) -> None:
    body = funds_body()
    response = await tpp.create(CBPII, body)
    assert response.status_code == 201, response.text
    # FCS OB-301-CBPII-000001 expects exactly this content type.
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    document = response.json()
    data = document["Data"]
    assert data["ConsentId"].startswith("fcc-")
    assert data["Status"] == "AwaitingAuthorisation"
    assert data["DebtorAccount"] == body["Data"]["DebtorAccount"]
    assert data["ExpirationDateTime"] == body["Data"]["ExpirationDateTime"]
    # OBFundsConfirmationConsentResponse1 has no Risk.
    assert "Risk" not in document
    assert document["Links"]["Self"] == f"http://127.0.0.1:8000{CBPII}/{data['ConsentId']}"
    assert document["Meta"] == {}


async def test_get_then_delete_then_get_is_400_not_found(tpp: Tpp) -> None:
    created = (await tpp.create(CBPII, funds_body())).json()
    consent_id = created["Data"]["ConsentId"]
    read = await tpp.call("GET", f"{CBPII}/{consent_id}")
    assert read.status_code == 200
    assert read.json() == created
    deleted = await tpp.call("DELETE", f"{CBPII}/{consent_id}")
    assert deleted.status_code == 204
    assert_ob_error(await tpp.call("GET", f"{CBPII}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")


async def test_delete_of_an_unknown_consent_is_400_not_found(tpp: Tpp) -> None:
    # FCS OB-301-CBPII-000009.
    assert_ob_error(await tpp.call("DELETE", f"{CBPII}/fcc-unknown"), 400, "UK.OBIE.Resource.NotFound")


async def test_another_clients_funds_consent_is_403(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = (await tpp.create(CBPII, funds_body())).json()["Data"]["ConsentId"]
    assert_ob_error(await other_tpp.call("GET", f"{CBPII}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await other_tpp.call("DELETE", f"{CBPII}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")


@pytest.mark.parametrize(
    ("debtor", "code", "path"),
    [
        ({"Name": "N" * 351}, "UK.OBIE.Field.Invalid", "Data.DebtorAccount.Name"),
        ({"Identification": "1" * 257}, "UK.OBIE.Field.Invalid", "Data.DebtorAccount.Identification"),
        ({"SchemeName": "UK.OBIE.Nonsense"}, "UK.OBIE.Unsupported.Scheme", "Data.DebtorAccount.SchemeName"),
    ],
    ids=["name-too-long", "identification-too-long", "unknown-scheme"],
)
async def test_invalid_debtor_account_is_400(tpp: Tpp, db, debtor: dict[str, str], code: str, path: str) -> None:  # type: ignore[no-untyped-def]
    # FCS OB-301-CBPII-000006/7/8: invalid account name, identification, scheme name -> 400.
    assert_ob_error(await tpp.create(CBPII, funds_body(**debtor)), 400, code, path)
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_missing_debtor_account_is_400_field_missing(tpp: Tpp) -> None:
    response = await tpp.create(CBPII, {"Data": {"ExpirationDateTime": "2099-01-01T00:00:00Z"}})
    assert_ob_error(response, 400, "UK.OBIE.Field.Missing", "Data.DebtorAccount")


@pytest.mark.parametrize(
    "expiration",
    ["2099-01-02T15:04:05.999Z", "2099-01-02T15:04:05.999-07:00", "2099-01-02T15:04:05Z", "2099-01-02T15:04:05-07:00"],
    ids=["fraction-z", "fraction-offset", "z", "offset"],
)
async def test_expiration_formats_the_fcs_sends_are_accepted_unchanged(tpp: Tpp, expiration: str) -> None:
    # FCS OB-301-CBPII-000009..000012.
    body = funds_body()
    body["Data"]["ExpirationDateTime"] = expiration
    response = await tpp.create(CBPII, body)
    assert response.status_code == 201, response.text
    assert response.json()["Data"]["ExpirationDateTime"] == expiration


async def test_expiration_in_the_past_is_400_invalid_date(tpp: Tpp) -> None:
    body = funds_body()
    body["Data"]["ExpirationDateTime"] = "2001-01-01T00:00:00+00:00"
    assert_ob_error(await tpp.create(CBPII, body), 400, "UK.OBIE.Field.InvalidDate", "Data.ExpirationDateTime")
