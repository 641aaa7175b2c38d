"""POST/GET /pisp/domestic-payment-consents, domestic-scheduled-payment-consents and
domestic-standing-order-consents (R/W API v3.1.11 domestic-payment-consents and siblings, "Idempotency";
docs/obie-notes.md sections 2.2, 3.2, 5); every response checked against payment-initiation-openapi."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from tests.integration.consent.conftest import PAYMENT_COLLECTIONS
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_bodyless
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import payment_body

DOMESTIC = PAYMENT_COLLECTIONS[0]
SCHEDULED = PAYMENT_COLLECTIONS[1]
STANDING_ORDER = PAYMENT_COLLECTIONS[2]
IDS = ["domestic", "scheduled", "standing-order"]
PREFIXES = {DOMESTIC: "pdc-", SCHEDULED: "sdpc-", STANDING_ORDER: "sdoc-"}


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_create_answers_201_awaiting_authorisation_echoing_initiation_and_risk(
    tpp: Tpp, collection: str
) -> None:
    body = payment_body(collection)
    # Signed by the TPP (x-jws-signature over the raw body); the answer is signed by the gateway (Tpp.call).
    response = await tpp.create(collection, body, key="key-1")
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    document = response.json()
    data = document["Data"]
    assert data["ConsentId"].startswith(PREFIXES[collection])
    assert data["Status"] == "AwaitingAuthorisation"
    # DPC: the Initiation is never changed by the ASPSP; Risk is echoed.
    assert data["Initiation"] == body["Data"]["Initiation"]
    assert data.get("Permission") == body["Data"].get("Permission")
    assert document["Risk"] == body["Risk"]
    assert datetime.fromisoformat(data["CreationDateTime"]).tzinfo is not None
    assert document["Links"]["Self"] == f"http://127.0.0.1:8000{collection}/{data['ConsentId']}"
    assert document["Meta"] == {}


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_get_returns_the_consent(tpp: Tpp, collection: str) -> None:
    created = (await tpp.create(collection, payment_body(collection), key="key-1")).json()
    response = await tpp.call("GET", f"{collection}/{created['Data']['ConsentId']}")
    assert response.status_code == 200, response.text
    assert response.json() == created


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_payment_consents_have_no_delete(tpp: Tpp, collection: str) -> None:
    consent_id = (await tpp.create(collection, payment_body(collection), key="key-1")).json()["Data"]["ConsentId"]
    response = await tpp.call("DELETE", f"{collection}/{consent_id}", check=False)
    assert_bodyless(response, 405)
    assert response.headers["allow"] == "GET"
    assert (await tpp.call("GET", f"{collection}/{consent_id}")).json()["Data"]["Status"] == "AwaitingAuthorisation"


async def test_missing_idempotency_key_is_400_header_missing(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.create(DOMESTIC, payment_body(DOMESTIC))
    assert_ob_error(response, 400, "UK.OBIE.Header.Missing", "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 0


@pytest.mark.parametrize("key", ["k" * 41, " leading-space", "trailing-space ", ""], ids=["41-chars", "lead", "trail", "empty"])
async def test_invalid_idempotency_key_is_400_header_invalid(tpp: Tpp, db, key: str) -> None:  # type: ignore[no-untyped-def]
    # OAS x-idempotency-key: Max40Text, pattern ^(?!\s)(.*)(\S)$.
    response = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key=key)
    assert_ob_error(response, 400, "UK.OBIE.Header.Invalid", "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_a_40_character_key_is_accepted(tpp: Tpp) -> None:
    assert (await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k" * 40)).status_code == 201


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_replay_with_the_same_key_and_body_returns_the_same_consent(tpp: Tpp, db, collection: str) -> None:  # type: ignore[no-untyped-def]
    body = payment_body(collection)
    first = await tpp.create(collection, body, key="replay-1")
    # The same JSON re-indented: the hash is over canonical JSON, so white space does not make a new request.
    again = await tpp.call(
        "POST", collection, content=json.dumps(body, indent=2, sort_keys=True).encode(),
        headers={"x-idempotency-key": "replay-1"},
    )
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["Data"]["ConsentId"] == first.json()["Data"]["ConsentId"]
    assert await consent_count(db, tpp.fapi.client_id) == 1


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_same_key_with_another_body_is_refused_and_creates_nothing(tpp: Tpp, db, collection: str) -> None:  # type: ignore[no-untyped-def]
    body = payment_body(collection)
    first = await tpp.create(collection, body, key="replay-2")
    assert first.status_code == 201
    changed = copy.deepcopy(body)
    changed["Risk"]["MerchantCategoryCode"] = "5968"
    response = await tpp.create(collection, changed, key="replay-2")
    assert_ob_error(response, 400, "UK.OBIE.Header.Invalid", "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 1
    # The stored consent is untouched.
    stored = await tpp.call("GET", f"{collection}/{first.json()['Data']['ConsentId']}")
    assert stored.json()["Risk"] == body["Risk"]


async def test_same_key_on_another_kind_of_consent_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    assert (await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="shared")).status_code == 201
    response = await tpp.create(SCHEDULED, payment_body(SCHEDULED), key="shared")
    assert_ob_error(response, 400, "UK.OBIE.Header.Invalid", "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 1


async def test_keys_are_per_client(tpp: Tpp, other_tpp: Tpp) -> None:
    mine = await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="same")
    theirs = await other_tpp.create(DOMESTIC, payment_body(DOMESTIC), key="same")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["Data"]["ConsentId"] != theirs.json()["Data"]["ConsentId"]


async def test_another_clients_payment_consent_is_403(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = (await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k")).json()["Data"]["ConsentId"]
    assert_ob_error(await other_tpp.call("GET", f"{DOMESTIC}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")


async def test_unknown_payment_consent_is_400_not_found(tpp: Tpp) -> None:
    assert_ob_error(await tpp.call("GET", f"{DOMESTIC}/pdc-unknown"), 400, "UK.OBIE.Resource.NotFound")


async def test_a_domestic_consent_is_not_found_at_the_scheduled_collection(tpp: Tpp) -> None:
    consent_id = (await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="k")).json()["Data"]["ConsentId"]
    assert_ob_error(await tpp.call("GET", f"{SCHEDULED}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")


async def test_missing_mandatory_initiation_field_is_400_field_missing(tpp: Tpp) -> None:
    body = payment_body(DOMESTIC)
    del body["Data"]["Initiation"]["InstructedAmount"]
    response = await tpp.create(DOMESTIC, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Field.Missing", "Data.Initiation.InstructedAmount")


async def test_unknown_member_is_400_field_unexpected(tpp: Tpp) -> None:
    # The OAS schemas are strict (additionalProperties: false).
    body = payment_body(DOMESTIC)
    body["Data"]["Initiation"]["Tip"] = "yes"
    response = await tpp.create(DOMESTIC, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Field.Unexpected", "Data.Initiation.Tip")


async def test_amount_that_breaks_the_pattern_is_400_field_invalid(tpp: Tpp) -> None:
    body = payment_body(DOMESTIC)
    body["Data"]["Initiation"]["InstructedAmount"]["Amount"] = "12.3456789"
    response = await tpp.create(DOMESTIC, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Field.Invalid", "Data.Initiation.InstructedAmount.Amount")


async def test_missing_risk_is_400_field_missing(tpp: Tpp) -> None:
    body = payment_body(DOMESTIC)
    del body["Risk"]
    assert_ob_error(await tpp.create(DOMESTIC, body, key="k"), 400, "UK.OBIE.Field.Missing", "Risk")


async def test_scheduled_consent_needs_permission_create(tpp: Tpp) -> None:
    body = payment_body(SCHEDULED)
    body["Data"]["Permission"] = "Delete"
    assert_ob_error(await tpp.create(SCHEDULED, body, key="k"), 400, "UK.OBIE.Field.Invalid", "Data.Permission")


@pytest.mark.parametrize("value", ["2099-04-05T10:43:07", "05/04/2099", "2099-02-30T10:00:00+00:00"],
                         ids=["no-offset", "not-iso", "no-such-day"])
async def test_bad_requested_execution_date_time_is_400_invalid_date(tpp: Tpp, value: str) -> None:
    body = payment_body(SCHEDULED)
    body["Data"]["Initiation"]["RequestedExecutionDateTime"] = value
    response = await tpp.create(SCHEDULED, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Field.InvalidDate", "Data.Initiation.RequestedExecutionDateTime")


@pytest.mark.parametrize("value", ["2099-04-05T10:43:07.999Z", "2099-04-05T10:43:07-07:00"], ids=["fraction-z", "offset"])
async def test_iso_8601_date_time_variants_with_an_offset_are_accepted(tpp: Tpp, value: str) -> None:
    body = payment_body(SCHEDULED)
    body["Data"]["Initiation"]["RequestedExecutionDateTime"] = value
    response = await tpp.create(SCHEDULED, body, key="k")
    assert response.status_code == 201, response.text
    assert response.json()["Data"]["Initiation"]["RequestedExecutionDateTime"] == value


async def test_unsupported_account_scheme_is_400_unsupported_scheme(tpp: Tpp) -> None:
    body = payment_body(DOMESTIC)
    body["Data"]["Initiation"]["CreditorAccount"]["SchemeName"] = "UK.OBIE.Bitcoin"
    response = await tpp.create(DOMESTIC, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Unsupported.Scheme", "Data.Initiation.CreditorAccount.SchemeName")


async def test_sort_code_and_account_number_must_be_14_digits(tpp: Tpp) -> None:
    body = payment_body(DOMESTIC)
    body["Data"]["Initiation"]["CreditorAccount"]["Identification"] = "0808002132569"
    response = await tpp.create(DOMESTIC, body, key="k")
    assert_ob_error(response, 400, "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification")
