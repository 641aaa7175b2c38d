"""The consent page during authorisation (OBIE R/W API "Consent Authorisation"; AISP profile: the PSU chooses the
accounts): who asks for what in plain words, Approve authorises with the chosen accounts and the code, tokens
and ID token carry the consent; Deny rejects; a bad choice or a forged form changes nothing."""

from __future__ import annotations

from gateway.security import jose
from tests.helpers.oauth import query_of
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import alice_psu_id
from tests.integration.consent_pages.conftest import consent_page
from tests.integration.consent_pages.conftest import decide
from tests.integration.consent_pages.conftest import intent_claims
from tests.integration.consent_pages.conftest import load_consent
from tests.integration.consent_pages.conftest import lodge_account_access
from tests.integration.consent_pages.conftest import lodge_funds_confirmation
from tests.integration.consent_pages.conftest import lodge_payment
from tests.integration.consent_pages.conftest import push
from tests.integration.consent_pages.conftest import redeem


async def test_consent_page_shows_who_asks_for_what_in_plain_words(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    html = page.text
    assert "Budget Buddy" in html
    for heading in ("Your account details", "Your balances",
                    "Your transactions from 1 March 2026 to 31 May 2026", "Until 12 December 2030"):
        assert f"<h2>{heading}</h2>" in html
    # Account checkboxes, labelled with name and masked number, in a fieldset with a legend.
    assert "<legend>Choose the accounts to share</legend>" in html
    assert html.count('type="checkbox"') == len(account_ids("alice"))
    assert "Rainy day savings" in html and "40004087654321" not in html
    assert ">Approve</button>" in html and ">Deny</button>" in html
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_approve_authorises_the_consent_with_the_chosen_account_and_the_id_token_names_it(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, verifier = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    chosen = account_ids("alice")[1]
    final = await decide(client, tpp, request_uri, page, accounts=[chosen])
    assert final.status_code == 303
    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "Authorised"
    assert consent.psu_id == alice_psu_id()
    assert accounts == [chosen]
    issued = await redeem(client, tpp, final.headers["location"], verifier)
    assert issued.status_code == 200, issued.text
    id_token = jose.unverified_claims(issued.json()["id_token"])
    assert id_token["openbanking_intent_id"] == consent_id
    introspected = await client.post("/introspect", data={"token": issued.json()["access_token"], **tpp.auth()})
    assert introspected.json()["active"] is True
    assert introspected.json()["openbanking_intent_id"] == consent_id


async def test_deny_rejects_the_consent_and_redirects_with_access_denied(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, decision="deny")
    assert final.status_code == 303
    assert query_of(final.headers["location"])["error"] == "access_denied"
    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "Rejected" and accounts == []


async def test_approving_without_an_account_shows_the_page_again_and_changes_nothing(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, verifier = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    again = await decide(client, tpp, request_uri, page, accounts=[])
    assert again.status_code == 400
    assert 'role="alert"' in again.text and "Choose at least one account." in again.text
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "AwaitingAuthorisation"
    # The request is still pending: the customer can choose and approve.
    final = await decide(client, tpp, request_uri, again, accounts=account_ids("alice")[:1])
    assert final.status_code == 303
    assert (await redeem(client, tpp, final.headers["location"], verifier)).status_code == 200


async def test_an_account_that_is_not_the_customers_is_refused_and_nothing_changes(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    bobs_own = [a for a in account_ids("bob") if a not in account_ids("alice")]
    refused = await decide(client, tpp, request_uri, page, accounts=[account_ids("alice")[0], *bobs_own])
    assert refused.status_code == 400
    assert "That account cannot be shared" in refused.text
    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "AwaitingAuthorisation" and accounts == []


async def test_a_decision_without_the_csrf_token_is_403_and_changes_nothing(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    refused = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1], csrf="")
    assert refused.status_code == 403
    assert "access_denied" in refused.text
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "AwaitingAuthorisation"


async def test_payment_consent_page_shows_payee_amount_reference_and_a_debtor_account_choice(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_payment(db, tpp.client_id)
    request_uri, verifier = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    for text in ("ACME Inc", "165.88 GBP", "FRESCO-101", "<legend>Choose the account to pay from</legend>"):
        assert text in page.text
    assert page.text.count('type="radio"') == len(account_ids("alice"))
    assert "withdraw" not in page.text  # PSD2 art. 80: an authorised payment cannot be withdrawn
    debtor = account_ids("alice")[0]
    final = await decide(client, tpp, request_uri, page, accounts=[debtor])
    assert final.status_code == 303
    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "Authorised" and accounts == [debtor]
    assert (await redeem(client, tpp, final.headers["location"], verifier)).status_code == 200


async def test_payment_consent_takes_exactly_one_debtor_account(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_payment(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    refused = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:2])
    assert refused.status_code == 400 and "Choose exactly one account" in refused.text
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "AwaitingAuthorisation"


async def test_funds_confirmation_consent_page_names_the_account(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_funds_confirmation(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, scope="openid fundsconfirmations", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    assert "Alice Andrews ending 5678" in page.text
    assert "<legend>Choose the account to check</legend>" in page.text


async def test_a_consent_decided_after_par_cannot_be_authorised(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    from consent import service
    from tests.integration.consent_pages.conftest import past

    consent_id = await lodge_account_access(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    async with db.session() as session:
        await service.delete(session=session, consent_id=consent_id, client_id=tpp.client_id, now=past(0))
    refused = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1])
    assert refused.status_code == 400
    assert "invalid_request" in refused.text
