"""POST/GET/DELETE /pisp/domestic-vrp-consents (OBIE VRP v3.1.11, vrp-openapi.yaml; docs/obie-notes-vrp-events.md
sections 2 and 4): every answer checked against the VRP document (openapi-core) and its signature verified."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import vrp_body

VRP = f"{PISP}/domestic-vrp-consents"
CONTROL = "Data.ControlParameters"


async def test_create_answers_201_awaiting_authorisation_echoing_the_request(tpp: Tpp) -> None:
    body = vrp_body()
    response = await tpp.create(VRP, body, key="vrp-1")
    assert response.status_code == 201, response.text
    data = response.json()["Data"]
    assert data["ConsentId"].startswith("vrpc-")
    assert data["Status"] == "AwaitingAuthorisation"
    assert data["ControlParameters"] == body["Data"]["ControlParameters"]
    assert data["Initiation"] == body["Data"]["Initiation"]
    assert "DebtorAccount" not in data  # only once approved
    assert response.json()["Risk"] == body["Risk"]
    assert response.json()["Links"]["Self"] == f"http://127.0.0.1:8000{VRP}/{data['ConsentId']}"
    assert response.json()["Meta"] == {}


async def test_get_returns_the_consent_and_delete_removes_it(tpp: Tpp) -> None:
    created = (await tpp.create(VRP, vrp_body(), key="vrp-1")).json()
    consent_id = created["Data"]["ConsentId"]
    got = await tpp.call("GET", f"{VRP}/{consent_id}")
    assert got.status_code == 200, got.text
    assert got.json() == created
    deleted = await tpp.call("DELETE", f"{VRP}/{consent_id}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    # Soft delete: afterwards the consent answers like one that never existed.
    assert_ob_error(await tpp.call("GET", f"{VRP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await tpp.call("DELETE", f"{VRP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")


def _control(body: dict[str, Any]) -> dict[str, Any]:
    return body["Data"]["ControlParameters"]  # type: ignore[no-any-return]


def _valid_from_equals_valid_to(body: dict[str, Any]) -> None:
    _control(body)["ValidFromDateTime"] = _control(body)["ValidToDateTime"]


def _valid_to_in_the_past(body: dict[str, Any]) -> None:
    _control(body)["ValidToDateTime"] = "2020-01-01T00:00:00+00:00"
    _control(body).pop("ValidFromDateTime")


def _duplicate_period(body: dict[str, Any]) -> None:
    limits = _control(body)["PeriodicLimits"]
    limits.append({**limits[0], "Amount": "20.00"})


def _mixed_currencies(body: dict[str, Any]) -> None:
    _control(body)["PeriodicLimits"][1]["Currency"] = "EUR"


def _zero_periodic_amount(body: dict[str, Any]) -> None:
    _control(body)["PeriodicLimits"][0]["Amount"] = "0.00"


def _zero_individual_amount(body: dict[str, Any]) -> None:
    _control(body)["MaximumIndividualAmount"]["Amount"] = "0"


def _unknown_vrp_type(body: dict[str, Any]) -> None:
    _control(body)["VRPType"] = ["UK.OBIE.VRPType.Lottery"]


def _bad_creditor_scheme(body: dict[str, Any]) -> None:
    body["Data"]["Initiation"]["CreditorAccount"]["Identification"] = "1234"


REFUSALS = [
    (_valid_from_equals_valid_to, "UK.OBIE.Field.InvalidDate", f"{CONTROL}.ValidToDateTime"),
    (_valid_to_in_the_past, "UK.OBIE.Field.InvalidDate", f"{CONTROL}.ValidToDateTime"),
    (_duplicate_period, "UK.OBIE.Field.Invalid", f"{CONTROL}.PeriodicLimits[2].PeriodType"),
    (_mixed_currencies, "UK.OBIE.Field.Invalid", f"{CONTROL}.PeriodicLimits[1].Currency"),
    (_zero_periodic_amount, "UK.OBIE.Field.Invalid", f"{CONTROL}.PeriodicLimits[0].Amount"),
    (_zero_individual_amount, "UK.OBIE.Field.Invalid", f"{CONTROL}.MaximumIndividualAmount.Amount"),
    (_unknown_vrp_type, "UK.OBIE.Field.Invalid", f"{CONTROL}.VRPType[0]"),
    (_bad_creditor_scheme, "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
]


@pytest.mark.parametrize(("change", "code", "path"), REFUSALS, ids=[r[0].__name__.strip("_") for r in REFUSALS])
async def test_each_control_parameter_refusal_stores_nothing(tpp: Tpp, db, change, code: str, path: str) -> None:  # type: ignore[no-untyped-def]
    body = vrp_body()
    change(body)
    assert_ob_error(await tpp.create(VRP, body, key="refused"), 400, code, path)
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_valid_from_just_before_valid_to_is_accepted(tpp: Tpp) -> None:
    body = vrp_body()
    _control(body)["ValidFromDateTime"] = "2099-12-31T23:59:58+00:00"
    _control(body)["ValidToDateTime"] = "2099-12-31T23:59:59+00:00"
    assert (await tpp.create(VRP, body, key="edge")).status_code == 201


async def test_the_same_period_with_another_alignment_is_accepted(tpp: Tpp) -> None:
    body = vrp_body()
    limits = _control(body)["PeriodicLimits"]
    limits.append({**limits[0], "PeriodAlignment": "Consent"})
    assert (await tpp.create(VRP, body, key="aligned")).status_code == 201


async def test_replay_with_the_same_key_returns_the_same_consent(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    first = await tpp.create(VRP, vrp_body(), key="vrp-replay")
    again = await tpp.create(VRP, vrp_body(), key="vrp-replay")
    assert first.status_code == again.status_code == 201
    assert again.json()["Data"]["ConsentId"] == first.json()["Data"]["ConsentId"]
    changed = vrp_body()
    _control(changed)["MaximumIndividualAmount"]["Amount"] = "51.00"
    assert_ob_error(await tpp.create(VRP, changed, key="vrp-replay"), 400, "UK.OBIE.Header.Invalid",
                    "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 1


async def test_missing_idempotency_key_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    assert_ob_error(await tpp.create(VRP, vrp_body()), 400, "UK.OBIE.Header.Missing", "x-idempotency-key")
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_an_unsigned_request_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.create(VRP, vrp_body(), key="unsigned", sign=False)
    assert response.status_code == 400, response.text
    assert response.json()["Errors"][0]["ErrorCode"].startswith("UK.OBIE.Signature.")
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_a_signature_over_other_bytes_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers.jws import sign_body

    forged = sign_body(b'{"Data":{}}', key=tpp.fapi.key, issuer=tpp.signer)
    response = await tpp.create(VRP, vrp_body(), key="forged", sign=False, headers={"x-jws-signature": forged})
    assert response.status_code == 400, response.text
    assert response.json()["Errors"][0]["ErrorCode"].startswith("UK.OBIE.Signature.")
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_another_clients_vrp_consent_is_403_and_cannot_be_deleted(tpp: Tpp, other_tpp: Tpp) -> None:
    consent_id = (await tpp.create(VRP, vrp_body(), key="mine")).json()["Data"]["ConsentId"]
    assert_ob_error(await other_tpp.call("GET", f"{VRP}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")
    assert_ob_error(await other_tpp.call("DELETE", f"{VRP}/{consent_id}"), 403, "UK.OBIE.Resource.NotFound")
    assert (await tpp.call("GET", f"{VRP}/{consent_id}")).json()["Data"]["Status"] == "AwaitingAuthorisation"


async def test_a_payment_consent_is_not_found_at_the_vrp_collection(tpp: Tpp) -> None:
    from tests.integration.consent.conftest import payment_body

    domestic = f"{PISP}/domestic-payment-consents"
    consent_id = (await tpp.create(domestic, payment_body(domestic), key="k")).json()["Data"]["ConsentId"]
    assert_ob_error(await tpp.call("GET", f"{VRP}/{consent_id}"), 400, "UK.OBIE.Resource.NotFound")


async def test_the_schema_refuses_a_body_without_control_parameters(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    body = copy.deepcopy(vrp_body())
    del body["Data"]["ControlParameters"]
    response = await tpp.create(VRP, body, key="no-control")
    assert response.status_code == 400, response.text
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_headless_approval_authorises_it_and_get_names_the_debtor_account(tpp: Tpp) -> None:
    from tests.helpers.payments import approve

    body = vrp_body()
    debtor = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "40004012345678",
              "Name": "Alice Andrews"}
    body["Data"]["Initiation"]["DebtorAccount"] = debtor
    consent_id = (await tpp.create(VRP, body, key="approve")).json()["Data"]["ConsentId"]
    # PAR naming the VRP consent under the payments scope, the sandbox's headless approval, the code redeemed.
    assert await approve(tpp, consent_id, scope="payments")
    data = (await tpp.call("GET", f"{VRP}/{consent_id}")).json()["Data"]
    assert data["Status"] == "Authorised"
    # OBDomesticVRPConsentResponse: DebtorAccount populated once the consent is approved.
    assert data["DebtorAccount"] == debtor
    assert (await tpp.call("DELETE", f"{VRP}/{consent_id}")).status_code == 204
