"""PAR with a consent (OBIE R/W API "Consent Authorisation"; RFC 9396 section 5): the named consent must exist,
belong to the client, await authorisation and match the scope; an OBIE scope without a consent is refused."""

from __future__ import annotations

import json

from consent import service
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.integration.consent_pages.conftest import ALL_SCOPES
from tests.integration.consent_pages.conftest import alice_psu_id
from tests.integration.consent_pages.conftest import intent_claims
from tests.integration.consent_pages.conftest import lodge_account_access
from tests.integration.consent_pages.conftest import lodge_funds_confirmation
from tests.integration.consent_pages.conftest import lodge_payment
from tests.integration.consent_pages.conftest import past


async def _push(client, fapi, *, scope, **extra):  # type: ignore[no-untyped-def]
    _, challenge = pkce_pair()
    return await fapi.push(client, fapi.authorization_params(challenge=challenge, scope=scope, **extra))


def _assert_refused(response, error: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


async def test_par_with_an_obie_scope_and_no_intent_is_invalid_request(client, tpp) -> None:  # type: ignore[no-untyped-def]
    for scope in ("openid accounts", "openid payments", "openid fundsconfirmations", "accounts"):
        _assert_refused(await _push(client, tpp, scope=scope), "invalid_request")


async def test_par_for_openid_alone_needs_no_intent(client, tpp) -> None:  # type: ignore[no-untyped-def]
    assert (await _push(client, tpp, scope="openid")).status_code == 201


async def test_par_naming_an_unknown_consent_is_invalid_request(client, tpp) -> None:  # type: ignore[no-untyped-def]
    _assert_refused(await _push(client, tpp, scope="openid accounts", claims=intent_claims("aac-unknown")),
                    "invalid_request")


async def test_par_naming_another_clients_consent_is_invalid_request(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    other = await insert_client(db, scope=ALL_SCOPES)
    consent_id = await lodge_account_access(db, other.client_id)
    _assert_refused(await _push(client, tpp, scope="openid accounts", claims=intent_claims(consent_id)),
                    "invalid_request")


async def test_par_naming_a_decided_consent_is_invalid_request(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    async with db.session() as session:
        await service.reject(session=session, consent_id=consent_id, client_id=tpp.client_id,
                             psu_id=alice_psu_id(), now=past(0))
    _assert_refused(await _push(client, tpp, scope="openid accounts", claims=intent_claims(consent_id)),
                    "invalid_request")


async def test_par_scope_must_match_the_consent_kind(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    account_access = await lodge_account_access(db, tpp.client_id)
    payment = await lodge_payment(db, tpp.client_id)
    funds = await lodge_funds_confirmation(db, tpp.client_id)
    for consent_id, wrong in ((account_access, "openid payments"), (payment, "openid accounts"),
                              (funds, "openid payments"), (account_access, "openid accounts payments"),
                              (account_access, "openid")):
        _assert_refused(await _push(client, tpp, scope=wrong, claims=intent_claims(consent_id)), "invalid_request")
    for consent_id, right in ((account_access, "openid accounts"), (payment, "openid payments"),
                              (funds, "openid fundsconfirmations")):
        assert (await _push(client, tpp, scope=right, claims=intent_claims(consent_id))).status_code == 201


async def test_par_rar_intent_of_an_unknown_consent_is_invalid_authorization_details(client, tpp) -> None:  # type: ignore[no-untyped-def]
    details = json.dumps([{"type": "openbanking_intent", "consent_id": "aac-unknown"}])
    _assert_refused(await _push(client, tpp, scope="openid accounts", authorization_details=details),
                    "invalid_authorization_details")


async def test_par_rar_intent_with_the_wrong_scope_is_invalid_authorization_details(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_payment(db, tpp.client_id)
    details = json.dumps([{"type": "openbanking_intent", "consent_id": consent_id}])
    _assert_refused(await _push(client, tpp, scope="openid accounts", authorization_details=details),
                    "invalid_authorization_details")


async def test_par_rar_intent_of_an_awaiting_consent_is_accepted(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    details = json.dumps([{"type": "openbanking_intent", "consent_id": consent_id}])
    assert (await _push(client, tpp, scope="openid accounts", authorization_details=details)).status_code == 201


async def test_par_rar_of_an_unknown_type_is_invalid_authorization_details(client, tpp) -> None:  # type: ignore[no-untyped-def]
    details = json.dumps([{"type": "payment_initiation", "instructedAmount": {"amount": "1", "currency": "GBP"}}])
    _assert_refused(await _push(client, tpp, scope="openid", authorization_details=details),
                    "invalid_authorization_details")


async def test_par_naming_an_expired_consent_is_invalid_request(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    async with db.session() as session:
        from consent.models import Consent

        row = await session.get(Consent, consent_id)
        row.expires_at = past(1)
        session.add(row)
        await session.commit()
    _assert_refused(await _push(client, tpp, scope="openid accounts", claims=intent_claims(consent_id)),
                    "invalid_request")
