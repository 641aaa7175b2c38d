"""Variable recurring payments through the gateway (OBIE VRP API v3.1.11, docs/obie-notes-vrp-events.md sections
1, 2 and 5): the customer's token, the TPP's signature, the consent's Initiation and Risk, the control parameters
enforced before the bank is called (a refusal stores nothing), exactly once per idempotency key, status from the
bank. The sandbox bank runs on a loopback port; every answer is checked against the official VRP document and its
``x-jws-signature`` against ``/jwks``.

The consent (``vrp_body``): sweeping to the savings account named in Initiation, GBP 50 a payment, GBP 100 a
calendar month, GBP 500 a calendar year, ``UK.OBIE.SCANotRequired``, ``OffSession``."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
import pytest
from sqlmodel import col
from sqlmodel import select

from gateway.settings import Settings
from gateway.store.payment_tables import VrpPaymentRecord
from sandbox.customers import account_id
from tests.helpers.payments import Approved
from tests.helpers.payments import approve
from tests.helpers.payments import approved_payment
from tests.helpers.payments import customer_auth
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import vrp_body
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)

CURRENT = account_id(key="alice-current")
VRP_CONSENTS = f"{PISP}/domestic-vrp-consents"
VRPS = f"{PISP}/domestic-vrps"
FAILS = "UK.OBIE.Rules.FailsControlParameters"
MISMATCH = "UK.OBIE.Resource.ConsentMismatch"
SAVINGS_CREDITOR = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                    "Name": "Mrs B Smith savings"}


@pytest.fixture
def settings(var_dir, live_bank):  # type: ignore[no-untyped-def]  # noqa: F811
    """The gateway's upstream is the sandbox bank on its loopback port; the shipped rulebook."""
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank)


# --------------------------------------------------------------------------- helpers


async def approved_vrp(tpp: Tpp, *, body: dict[str, Any] | None = None, key: str = "vrp-consent") -> Approved:
    body = body or vrp_body()
    created = await tpp.create(VRP_CONSENTS, body, key=key)
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    token = await approve(tpp, consent_id, scope="payments", account_id=CURRENT)
    return Approved(consent_id=consent_id, access_token=token, consent_body=body)


def vrp_request(approved: Approved, amount: str, **changes: Any) -> dict[str, Any]:
    """OBDomesticVRPRequest for the consent: its Initiation and Risk exactly, one Instruction of ``amount``."""
    consent = copy.deepcopy(approved.consent_body)
    initiation = consent["Data"]["Initiation"]
    data = {
        "ConsentId": approved.consent_id,
        "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired",
        "PSUInteractionType": "OffSession",
        "VRPType": "UK.OBIE.VRPType.Sweeping",
        "Initiation": initiation,
        "Instruction": {
            "InstructionIdentification": "instr-1",
            "EndToEndIdentification": "e2e-1",
            "RemittanceInformation": {"Reference": initiation["RemittanceInformation"]["Reference"]},
            "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
            "CreditorAccount": copy.deepcopy(initiation.get("CreditorAccount", SAVINGS_CREDITOR)),
        },
    }
    data.update(changes)
    return {"Data": data, "Risk": consent["Risk"]}


async def pay(tpp: Tpp, approved: Approved, amount: str = "10.00", *, key: str | None = "vrp-1",
              body: dict[str, Any] | None = None, sign: bool = True, check: bool = True) -> httpx.Response:
    headers = customer_auth(tpp, approved.access_token, "POST", VRPS)
    if key is not None:
        headers["x-idempotency-key"] = key
    content = json.dumps(body if body is not None else vrp_request(approved, amount)).encode()
    return await tpp.call("POST", VRPS, content=content, headers=headers, authorized=False, sign=sign, check=check)


async def records(db: Any, consent_id: str) -> list[VrpPaymentRecord]:
    async with db.session() as session:
        return list((await session.exec(
            select(VrpPaymentRecord).where(col(VrpPaymentRecord.consent_id) == consent_id))).all())


def remaining(response: httpx.Response) -> dict[str, str]:
    header = response.headers["x-obgw-vrp-remaining"]
    return dict(part.split("=", 1) for part in header.split(", "))


# --------------------------------------------------------------------------- the payment


async def test_a_vrp_executes_from_the_chosen_account_and_the_consent_stays_authorised(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    created = await pay(tpp, approved, "20.00")
    assert created.status_code == 201, created.text
    document = created.json()
    data = document["Data"]
    assert data["ConsentId"] == approved.consent_id
    assert data["Initiation"] == approved.consent_body["Data"]["Initiation"]
    assert data["Instruction"]["InstructedAmount"] == {"Amount": "20.00", "Currency": "GBP"}
    assert data["Status"] in {"Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"}
    assert data["DebtorAccount"]["Identification"] == "40004012345678"  # the current account the customer chose
    assert document["Risk"] == approved.consent_body["Risk"]
    assert document["Links"]["Self"] == f"{ISSUER}{VRPS}/{data['DomesticVRPId']}"
    # No field for it in v3.1.11: the remaining allowance of each periodic limit travels in a header.
    assert remaining(created) == {"Calendar-Month": "80.00 GBP", "Calendar-Year": "480.00 GBP"}
    consent = await tpp.call("GET", f"{VRP_CONSENTS}/{approved.consent_id}")
    assert consent.json()["Data"]["Status"] == "Authorised"
    # A VRP consent yields many payments.
    second = await pay(tpp, approved, "30.00", key="vrp-2")
    assert second.status_code == 201, second.text
    assert second.json()["Data"]["DomesticVRPId"] != data["DomesticVRPId"]
    assert remaining(second)["Calendar-Month"] == "50.00 GBP"
    assert len(await records(db, approved.consent_id)) == 2


async def test_the_status_and_payment_details_are_read_with_the_client_token(tpp: Tpp, other_tpp: Tpp) -> None:
    approved = await approved_vrp(tpp)
    created = (await pay(tpp, approved, "5.00")).json()["Data"]
    path = f"{VRPS}/{created['DomesticVRPId']}"
    status = await tpp.call("GET", path)
    assert status.status_code == 200, status.text
    assert status.json()["Data"]["DomesticVRPId"] == created["DomesticVRPId"]
    assert status.json()["Risk"] == approved.consent_body["Risk"]
    details = await tpp.call("GET", f"{path}/payment-details")
    assert details.status_code == 200, details.text
    assert details.json()["Data"]["PaymentStatus"]
    # Another TPP's payment is not theirs to read; an unknown id is 400 NotFound (R/W API "HTTP Status Codes").
    assert (await other_tpp.call("GET", path)).status_code == 403
    assert_ob_error(await tpp.call("GET", f"{VRPS}/no-such-vrp"), 400, "UK.OBIE.Resource.NotFound")


# --------------------------------------------------------------------------- control parameters at their boundaries


async def test_exactly_the_maximum_individual_amount_is_allowed_and_a_penny_more_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    refused = await pay(tpp, approved, "50.01", key="over")
    assert_ob_error(refused, 400, FAILS)
    assert await records(db, approved.consent_id) == []
    assert (await pay(tpp, approved, "50.00", key="at")).status_code == 201


async def test_the_period_limit_is_reachable_exactly_and_the_next_penny_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    assert (await pay(tpp, approved, "50.00", key="a")).status_code == 201
    last = await pay(tpp, approved, "50.00", key="b")
    assert last.status_code == 201, last.text
    assert remaining(last)["Calendar-Month"] == "0.00 GBP"
    refused = await pay(tpp, approved, "0.01", key="c")
    assert_ob_error(refused, 400, FAILS)
    assert len(await records(db, approved.consent_id)) == 2  # the refusal stored nothing


async def test_two_payments_racing_for_the_last_allowance_one_wins(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    assert (await pay(tpp, approved, "50.00", key="first")).status_code == 201
    answers = await asyncio.gather(pay(tpp, approved, "50.00", key="race-a", check=False),
                                   pay(tpp, approved, "50.00", key="race-b", check=False))
    assert sorted(a.status_code for a in answers) == [201, 400], [a.text for a in answers]
    assert len(await records(db, approved.consent_id)) == 2


@pytest.mark.parametrize(("changes", "code", "path"), [
    ({"VRPType": "UK.OBIE.VRPType.Other"}, FAILS, "Data.VRPType"),
    ({"PSUAuthenticationMethod": "UK.OBIE.SCA"}, FAILS, "Data.PSUAuthenticationMethod"),
    ({"PSUInteractionType": "InSession"}, FAILS, "Data.PSUInteractionType"),
])
async def test_what_the_consent_does_not_allow_is_refused_and_stores_nothing(  # type: ignore[no-untyped-def]
    tpp: Tpp, db, changes: dict[str, Any], code: str, path: str
) -> None:
    approved = await approved_vrp(tpp)
    refused = await pay(tpp, approved, body=vrp_request(approved, "10.00", **changes))
    assert_ob_error(refused, 400, code)
    assert refused.json()["Errors"][0]["Path"] == path
    assert await records(db, approved.consent_id) == []


def _other_initiation(body: dict[str, Any]) -> None:
    body["Data"]["Initiation"]["RemittanceInformation"]["Reference"] = "Something else"


def _other_risk(body: dict[str, Any]) -> None:
    body["Risk"] = {"PaymentContextCode": "EcommerceGoods"}


def _other_creditor(body: dict[str, Any]) -> None:
    body["Data"]["Instruction"]["CreditorAccount"]["Identification"] = "08080099999999"


def _other_reference(body: dict[str, Any]) -> None:
    body["Data"]["Instruction"]["RemittanceInformation"]["Reference"] = "Not the consent's"


@pytest.mark.parametrize("change", [_other_initiation, _other_risk, _other_creditor, _other_reference])
async def test_a_request_that_does_not_match_its_consent_is_refused(tpp: Tpp, db, change) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    body = vrp_request(approved, "10.00")
    change(body)
    assert_ob_error(await pay(tpp, approved, body=body), 400, MISMATCH)
    assert await records(db, approved.consent_id) == []


async def test_a_sweeping_payment_needs_a_consent_that_names_the_creditor(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    consent = vrp_body()
    del consent["Data"]["Initiation"]["CreditorAccount"]
    approved = await approved_vrp(tpp, body=consent)
    body = vrp_request(approved, "10.00")
    refused = await pay(tpp, approved, body=body)
    assert_ob_error(refused, 400, FAILS)
    assert refused.json()["Errors"][0]["Path"] == "Data.Instruction.CreditorAccount"


# --------------------------------------------------------------------------- idempotency and signatures


async def test_a_replay_answers_the_same_payment_and_counts_once(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    first = await pay(tpp, approved, "40.00", key="same")
    again = await pay(tpp, approved, "40.00", key="same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert len(await records(db, approved.consent_id)) == 1
    # Another body under the same key is refused (R/W API "Idempotency").
    assert_ob_error(await pay(tpp, approved, "41.00", key="same"), 400, "UK.OBIE.Header.Invalid")


async def test_a_payment_without_idempotency_key_or_signature_is_refused(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    assert_ob_error(await pay(tpp, approved, key=None), 400, "UK.OBIE.Header.Missing")
    unsigned = await pay(tpp, approved, sign=False)
    assert unsigned.status_code in (400, 401), unsigned.text
    assert await records(db, approved.consent_id) == []


async def test_a_token_for_another_consent_kind_cannot_make_a_vrp(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    vrp = await approved_vrp(tpp)
    payment = await approved_payment(tpp)
    body = vrp_request(vrp, "10.00")
    headers = customer_auth(tpp, payment.access_token, "POST", VRPS) | {"x-idempotency-key": "wrong-token"}
    refused = await tpp.call("POST", VRPS, content=json.dumps(body).encode(), headers=headers, authorized=False)
    assert refused.status_code in (400, 403), refused.text
    assert await records(db, vrp.consent_id) == []


# --------------------------------------------------------------------------- revocation


async def test_a_revoked_consent_refuses_the_next_payment_at_once(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    from gateway.oauth import operators

    approved = await approved_vrp(tpp)
    assert (await pay(tpp, approved, "10.00", key="before")).status_code == 201
    await operators.revoke_consent(db=db, consent_id=approved.consent_id)
    refused = await pay(tpp, approved, "10.00", key="after", check=False)
    assert refused.status_code in (400, 401, 403), refused.text
    assert len(await records(db, approved.consent_id)) == 1


# --------------------------------------------------------------------------- funds confirmation


async def funds(tpp: Tpp, approved: Approved, amount: str, *, consent_id: str | None = None,
                sign: bool = True) -> httpx.Response:
    path = f"{VRP_CONSENTS}/{approved.consent_id}/funds-confirmation"
    body = {"Data": {"ConsentId": consent_id or approved.consent_id, "Reference": "check-1",
                     "InstructedAmount": {"Amount": amount, "Currency": "GBP"}}}
    headers = customer_auth(tpp, approved.access_token, "POST", path)
    return await tpp.call("POST", path, content=json.dumps(body).encode(), headers=headers, authorized=False,
                          sign=sign)


async def test_funds_confirmation_answers_available_or_not_from_the_debtor_account(tpp: Tpp) -> None:
    approved = await approved_vrp(tpp)
    yes = await funds(tpp, approved, "10.00")
    assert yes.status_code == 201, yes.text
    data = yes.json()["Data"]
    assert data["ConsentId"] == approved.consent_id
    assert data["Reference"] == "check-1"
    assert data["FundsAvailableResult"]["FundsAvailable"] == "Available"
    assert data["InstructedAmount"] == {"Amount": "10.00", "Currency": "GBP"}
    no = await funds(tpp, approved, "99999999.00")
    assert no.json()["Data"]["FundsAvailableResult"]["FundsAvailable"] == "NotAvailable"


async def test_funds_confirmation_refuses_another_consent_id_and_an_unsigned_request(tpp: Tpp) -> None:
    approved = await approved_vrp(tpp)
    assert_ob_error(await funds(tpp, approved, "10.00", consent_id="vrpc-other"), 400, MISMATCH)
    unsigned = await funds(tpp, approved, "10.00", sign=False)
    assert unsigned.status_code in (400, 401), unsigned.text


async def test_funds_confirmation_on_another_consent_than_the_tokens_is_403(tpp: Tpp) -> None:
    approved = await approved_vrp(tpp)
    other = await approved_vrp(tpp, key="other-vrp-consent")
    # The customer's token for ``approved`` at the path of ``other``: refused before the bank is asked.
    path = f"{VRP_CONSENTS}/{other.consent_id}/funds-confirmation"
    body = {"Data": {"ConsentId": other.consent_id, "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}}}
    headers = customer_auth(tpp, approved.access_token, "POST", path)
    refused = await tpp.call("POST", path, content=json.dumps(body).encode(), headers=headers, authorized=False)
    assert_ob_error(refused, 403, "UK.OBIE.Resource.NotFound")
