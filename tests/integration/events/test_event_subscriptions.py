"""``/open-banking/v3.1/event-subscriptions`` (events-openapi.yaml): every answer validated against the served
document (``Tpp.call``), one subscription per TPP, the refusals."""

from __future__ import annotations

import json

from tests.helpers.jws import sign_body
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import new_tpp
from tests.integration.events.conftest import EVENTS
from tests.integration.events.conftest import SUBSCRIPTIONS
from tests.integration.events.conftest import subscribe

REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"


async def test_create_read_change_delete(tpp: Tpp) -> None:
    created = await subscribe(tpp, "https://tpp.example.com/cb", EventTypes=[REVOKED])
    sid = created["EventSubscriptionId"]
    assert created == {"EventSubscriptionId": sid, "Version": "3.1", "CallbackUrl": "https://tpp.example.com/cb",
                       "EventTypes": [REVOKED]}
    listed = await tpp.call("GET", SUBSCRIPTIONS)
    assert listed.status_code == 200 and listed.json()["Data"]["EventSubscription"] == [created]
    changed = await tpp.call("PUT", f"{SUBSCRIPTIONS}/{sid}",
                             body={"Data": {"EventSubscriptionId": sid, "Version": "3.1"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["Data"] == {"EventSubscriptionId": sid, "Version": "3.1"}
    assert changed.json()["Links"]["Self"].endswith(f"{SUBSCRIPTIONS}/{sid}")
    deleted = await tpp.call("DELETE", f"{SUBSCRIPTIONS}/{sid}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await tpp.call("GET", SUBSCRIPTIONS)).json()["Data"]["EventSubscription"] == []


async def test_a_second_subscription_is_409(tpp: Tpp) -> None:
    await subscribe(tpp, None)
    again = await tpp.call("POST", SUBSCRIPTIONS, body={"Data": {"Version": "3.1"}}, check=False)
    assert_ob_error(again, 409, "UK.OBIE.Rules.ResourceAlreadyExists")


async def test_another_tpps_subscription_answers_like_an_unknown_one(tpp: Tpp, other_tpp: Tpp) -> None:
    sid = (await subscribe(tpp, None))["EventSubscriptionId"]
    for method, body in (("PUT", {"Data": {"EventSubscriptionId": sid, "Version": "3.1"}}), ("DELETE", None)):
        answer = await other_tpp.call(method, f"{SUBSCRIPTIONS}/{sid}", body=body)
        assert_ob_error(answer, 400, "UK.OBIE.Resource.NotFound", "EventSubscriptionId")
    assert len((await tpp.call("GET", SUBSCRIPTIONS)).json()["Data"]["EventSubscription"]) == 1


async def test_a_callback_to_a_link_local_address_is_refused(tpp: Tpp) -> None:
    answer = await tpp.call("POST", SUBSCRIPTIONS,
                            body={"Data": {"Version": "3.1", "CallbackUrl": "http://169.254.169.254/latest"}})
    assert_ob_error(answer, 400, "UK.OBIE.Field.Invalid", "Data.CallbackUrl")


async def test_an_unknown_event_type_is_refused(tpp: Tpp) -> None:
    answer = await tpp.call("POST", SUBSCRIPTIONS,
                            body={"Data": {"Version": "3.1", "EventTypes": ["urn:example:nothing"]}})
    assert_ob_error(answer, 400, "UK.OBIE.Field.Invalid", "Data.EventTypes")


async def test_a_body_off_the_schema_is_refused(tpp: Tpp) -> None:
    answer = await tpp.call("POST", SUBSCRIPTIONS, body={"Data": {"CallbackUrl": "https://tpp.example.com/cb"}})
    assert answer.status_code == 400


async def test_the_put_must_name_the_subscription_of_the_path(tpp: Tpp) -> None:
    sid = (await subscribe(tpp, None))["EventSubscriptionId"]
    answer = await tpp.call("PUT", f"{SUBSCRIPTIONS}/{sid}", body={"Data": {"EventSubscriptionId": "x", "Version": "3.1"}})
    assert_ob_error(answer, 400, "UK.OBIE.Field.Invalid", "Data.EventSubscriptionId")


async def test_without_a_token_nothing_is_served(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get(SUBSCRIPTIONS)).status_code == 401
    assert (await client.post(SUBSCRIPTIONS, json={"Data": {"Version": "3.1"}})).status_code == 401
    assert (await tpp.call("GET", SUBSCRIPTIONS)).json()["Data"]["EventSubscription"] == []


async def test_a_pisp_or_a_cbpii_without_the_accounts_scope_may_subscribe_and_poll(client, db, obie_specs) -> None:  # type: ignore[no-untyped-def]
    """events-openapi.yaml: TPPOAuth2Security with accounts, payments or fundsconfirmations."""
    for scope in ("openid payments", "openid fundsconfirmations"):
        tpp = await new_tpp(client, db, obie_specs, scope=scope)
        await subscribe(tpp, None)
        polled = await tpp.call("POST", EVENTS, body={"returnImmediately": True})
        assert polled.status_code == 201, polled.text



async def test_a_client_token_without_the_operations_scope_is_refused_and_nothing_is_stored(client, db, obie_specs) -> None:  # type: ignore[no-untyped-def]
    """The scope check every client-token route shares (a list names alternatives; one scope, the only one): a
    PISP's token at the AISP's consent endpoint is 403 insufficient_scope, and no consent is stored."""
    pisp = await new_tpp(client, db, obie_specs, scope="openid payments")
    answer = await pisp.call("POST", AISP, body=account_access_body(), check=False)
    assert answer.status_code == 403, answer.text
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert await consent_count(db, pisp.fapi.client_id) == 0


async def test_an_unsigned_subscription_request_is_refused_and_nothing_is_stored(tpp: Tpp) -> None:
    """events-openapi.yaml declares x-jws-signature required on the subscription POST and PUT."""
    unsigned = await tpp.call("POST", SUBSCRIPTIONS, body={"Data": {"Version": "3.1"}}, sign=False)
    assert_ob_error(unsigned, 400, "UK.OBIE.Signature.Missing")
    assert (await tpp.call("GET", SUBSCRIPTIONS)).json()["Data"]["EventSubscription"] == []


async def test_a_subscription_change_signed_over_other_bytes_is_refused_and_changes_nothing(tpp: Tpp) -> None:
    created = await subscribe(tpp, "https://tpp.example.com/cb")
    sid = created["EventSubscriptionId"]
    signed_for = json.dumps({"Data": {"EventSubscriptionId": sid, "Version": "3.1"}}).encode()
    sent = json.dumps({"Data": {"EventSubscriptionId": sid, "Version": "3.1",
                                "CallbackUrl": "https://attacker.example.com/cb"}}).encode()
    signature = sign_body(signed_for, key=tpp.fapi.key, issuer=tpp.signer)
    answer = await tpp.call("PUT", f"{SUBSCRIPTIONS}/{sid}", content=sent, sign=False,
                            headers={"x-jws-signature": signature})
    assert_ob_error(answer, 400, "UK.OBIE.Signature.Invalid")
    assert (await tpp.call("GET", SUBSCRIPTIONS)).json()["Data"]["EventSubscription"] == [created]


async def test_polling_is_not_signed_either_way(tpp: Tpp) -> None:
    await subscribe(tpp, None)
    polled = await tpp.call("POST", EVENTS, body={"returnImmediately": True})
    assert polled.status_code == 201 and "x-jws-signature" not in polled.headers
