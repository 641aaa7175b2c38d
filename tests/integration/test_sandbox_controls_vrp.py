"""Sandbox scenario controls for VRP (gateway/hosting/sandbox_controls.py; OBIE VRP API v3.1.11): settle and reject
find the TPP's own VRP payments (``gateway_vrp_payment``), reject-next-payment arms the bank's one-shot for the
TPP's own Authorised domestic VRP consent only, expire works on a VRP consent; another TPP's payment or consent
answers like an unknown one and changes nothing at the bank."""

# ruff: noqa: F811  (pytest fixtures imported by name are parameters of the tests below)

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt

from consent.models import Consent
from gateway.security.keys import KeyStore
from gateway.store.db import utcnow
from gateway.store.payment_tables import VrpPaymentRecord
from sandbox.customers import account_id
from sandbox.customers import customer_id
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.payments import approve
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import gateway_app  # noqa: F401
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import other_tpp  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
from tests.integration.consent.conftest import vrp_body
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.test_sandbox_controls import authorised_account_consent
from tests.integration.test_sandbox_controls import control
from tests.integration.test_sandbox_controls import settings  # noqa: F401  (fixture)

VRP_CONSENTS = f"{PISP}/domestic-vrp-consents"
BANK_VRPS = "/bank/v1/pisp/domestic-vrps"
DEBTOR = account_id(key="alice-current")


def bank_context(keys: KeyStore, **claims: Any) -> str:
    """A context as the gateway signs it for the bank (gateway.backend.bank)."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "obgw-bank", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()), **claims}
    key = keys.context_key
    return jwt.encode(body, jwt.PyJWK(key).key, algorithm=key["alg"], headers={"kid": key["kid"]})


async def authorised_vrp_consent(tpp: Tpp) -> str:
    created = await tpp.create(VRP_CONSENTS, vrp_body(), key=f"vrp-{uuid.uuid4().hex[:8]}")
    assert created.status_code == 201, created.text
    consent_id = str(created.json()["Data"]["ConsentId"])
    await approve(tpp, consent_id, scope="payments")
    return consent_id


async def bank_vrp(live_bank: str, keys: KeyStore, consent_id: str, *, key: str = "k-1") -> dict[str, Any]:
    """A VRP payment executed at the bank as the gateway asks for one (its VRP endpoint is not mounted here)."""
    token = bank_context(keys, purpose="pis", psu_id=customer_id(username=PSU_USERNAME), consent_id=consent_id,
                         account_id=DEBTOR)
    body = {"ConsentId": consent_id, "IdempotencyKey": key, "Initiation": vrp_body()["Data"]["Initiation"],
            "Instruction": {"InstructionIdentification": "SWEEP-1", "EndToEndIdentification": "E2E-SWEEP-1",
                            "InstructedAmount": {"Amount": "10.00", "Currency": "GBP"},
                            "CreditorAccount": vrp_body()["Data"]["Initiation"]["CreditorAccount"]}}
    async with httpx.AsyncClient(base_url=live_bank) as bank:
        answer = await bank.post(BANK_VRPS, json=body, headers={"x-obgw-context": token})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["Data"]  # type: ignore[no-any-return]


async def bank_status(live_bank: str, keys: KeyStore, consent_id: str, payment_id: str) -> str:
    token = bank_context(keys, purpose="pis", psu_id=customer_id(username=PSU_USERNAME), consent_id=consent_id)
    async with httpx.AsyncClient(base_url=live_bank) as bank:
        answer = await bank.get(f"{BANK_VRPS}/{payment_id}", headers={"x-obgw-context": token})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Data"]["Status"])


async def record_vrp(db: Any, tpp: Tpp, *, consent_id: str, payment_id: str) -> None:
    """The gateway's record of a VRP payment the TPP submitted (gateway.pipeline.vrp_store), as a row."""
    now = utcnow()
    async with db.session() as session:
        session.add(VrpPaymentRecord(
            record_id=uuid.uuid4().hex, client_id=tpp.fapi.client_id, idempotency_key=uuid.uuid4().hex[:20],
            request_hash="0" * 64, kind="domestic-vrps", consent_id=consent_id,
            psu_id=customer_id(username=PSU_USERNAME), account_id=DEBTOR, amount="10.00", currency="GBP",
            state="done", lease_token=uuid.uuid4().hex, lease_until=now + timedelta(seconds=30),
            payment_id=payment_id, response_status=201, response_body="{}", created_at=now, completed_at=now,
        ))
        await session.commit()


async def tpps_vrp_payment(tpp: Tpp, db: Any, live_bank: str, keys: KeyStore, *, key: str = "k-1") -> tuple[str, str]:
    consent_id = await authorised_vrp_consent(tpp)
    payment = await bank_vrp(live_bank, keys, consent_id, key=key)
    assert payment["Status"] == "Pending"
    await record_vrp(db, tpp, consent_id=consent_id, payment_id=payment["DomesticVRPId"])
    return consent_id, payment["DomesticVRPId"]


# --------------------------------------------------------------------------- settle and reject


async def test_settle_now_completes_the_tpps_vrp_payment(tpp: Tpp, db, live_bank, gateway_keys) -> None:  # type: ignore[no-untyped-def]
    consent_id, payment_id = await tpps_vrp_payment(tpp, db, live_bank, gateway_keys)
    settled = await control(tpp, f"/payments/{payment_id}/settle")
    assert settled.status_code == 200, settled.text
    assert settled.json()["Data"]["DomesticVRPId"] == payment_id
    assert settled.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    assert await bank_status(live_bank, gateway_keys, consent_id, payment_id) == "AcceptedSettlementCompleted"


async def test_reject_turns_the_tpps_pending_vrp_payment_rejected(tpp: Tpp, db, live_bank, gateway_keys) -> None:  # type: ignore[no-untyped-def]
    consent_id, payment_id = await tpps_vrp_payment(tpp, db, live_bank, gateway_keys)
    rejected = await control(tpp, f"/payments/{payment_id}/reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["Data"]["Status"] == "Rejected"
    assert rejected.json()["Data"]["StatusReason"] == "UK.OBIE.OtherReason"
    again = await control(tpp, f"/payments/{payment_id}/reject")
    assert_ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus", "PaymentId")


async def test_another_tpps_vrp_payment_is_unknown_to_the_controls(tpp: Tpp, other_tpp: Tpp, db, live_bank,  # type: ignore[no-untyped-def]
                                                                   gateway_keys) -> None:
    consent_id, payment_id = await tpps_vrp_payment(tpp, db, live_bank, gateway_keys)
    for action in ("settle", "reject"):
        refused = await control(other_tpp, f"/payments/{payment_id}/{action}")
        assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "PaymentId")
    assert await bank_status(live_bank, gateway_keys, consent_id, payment_id) == "Pending"


async def test_a_vrp_payment_the_gateway_has_no_record_of_is_unknown(tpp: Tpp, live_bank, gateway_keys) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_vrp_consent(tpp)
    payment_id = (await bank_vrp(live_bank, gateway_keys, consent_id))["DomesticVRPId"]
    refused = await control(tpp, f"/payments/{payment_id}/settle")
    assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "PaymentId")
    assert await bank_status(live_bank, gateway_keys, consent_id, payment_id) == "Pending"


# --------------------------------------------------------------------------- reject the next payment


async def test_reject_next_payment_rejects_the_next_vrp_payment_at_the_bank_once(tpp: Tpp, live_bank,  # type: ignore[no-untyped-def]
                                                                                 gateway_keys) -> None:
    consent_id = await authorised_vrp_consent(tpp)
    armed = await control(tpp, f"/consents/{consent_id}/reject-next-payment")
    assert armed.status_code == 200, armed.text
    assert armed.json()["Data"] == {"ConsentId": consent_id, "RejectNextPayment": True}
    first = await bank_vrp(live_bank, gateway_keys, consent_id, key="k-1")
    assert (first["Status"], first["StatusReason"]) == ("Rejected", "UK.OBIE.OtherReason")
    second = await bank_vrp(live_bank, gateway_keys, consent_id, key="k-2")
    assert second["Status"] == "Pending"


async def test_reject_next_payment_of_another_kind_of_consent_is_400_and_arms_nothing(tpp: Tpp, live_bank,  # type: ignore[no-untyped-def]
                                                                                      gateway_keys) -> None:
    consent_id = await authorised_account_consent(tpp)
    refused = await control(tpp, f"/consents/{consent_id}/reject-next-payment")
    assert_ob_error(refused, 400, "UK.OBIE.Resource.ConsentMismatch", "ConsentId")
    # Nothing reached the bank: a payment under that id is decided as usual.
    assert (await bank_vrp(live_bank, gateway_keys, consent_id))["Status"] == "Pending"


async def test_reject_next_payment_needs_an_authorised_vrp_consent(tpp: Tpp) -> None:
    created = await tpp.create(VRP_CONSENTS, vrp_body(), key="vrp-awaiting")
    consent_id = created.json()["Data"]["ConsentId"]
    refused = await control(tpp, f"/consents/{consent_id}/reject-next-payment")
    assert_ob_error(refused, 400, "UK.OBIE.Resource.InvalidConsentStatus", "ConsentId")


async def test_another_tpps_vrp_consent_is_unknown_to_reject_next_payment(tpp: Tpp, other_tpp: Tpp, live_bank,  # type: ignore[no-untyped-def]
                                                                         gateway_keys) -> None:
    consent_id = await authorised_vrp_consent(tpp)
    for target in (consent_id, "vrpc-unknown"):
        refused = await control(other_tpp, f"/consents/{target}/reject-next-payment")
        assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "ConsentId")
    assert (await bank_vrp(live_bank, gateway_keys, consent_id))["Status"] == "Pending"


# --------------------------------------------------------------------------- expire


async def test_expire_makes_a_vrp_consent_expired(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    consent_id = await authorised_vrp_consent(tpp)
    expired = await control(tpp, f"/consents/{consent_id}/expire")
    assert expired.status_code == 200, expired.text
    assert expired.json()["Data"] == {"ConsentId": consent_id, "Status": "Expired"}
    async with db.session() as session:
        stored = await session.get(Consent, consent_id)
        assert stored is not None and stored.status == "Expired"
    # Expired is not a VRP consent status on the wire: the TPP reads Authorised.
    seen = await tpp.call("GET", f"{VRP_CONSENTS}/{consent_id}")
    assert seen.json()["Data"]["Status"] == "Authorised"
    again = await control(tpp, f"/consents/{consent_id}/expire")
    assert_ob_error(again, 400, "UK.OBIE.Resource.InvalidConsentStatus", "ConsentId")

