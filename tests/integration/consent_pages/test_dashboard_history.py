"""The dashboard's history (docs/architecture.md section 1, journey 6): each consent's kind in plain words and
its dates, a GET filter form (TPP, kind, active or past, a date range of history entries) that narrows the page,
the JSON and CSV exports and the printable view alike."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime

from consent import service
from tests.helpers.oauth import insert_client
from tests.integration.consent_pages.conftest import ALL_SCOPES
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import alice_psu_id
from tests.integration.consent_pages.conftest import lodge_account_access
from tests.integration.consent_pages.conftest import lodge_funds_confirmation
from tests.integration.consent_pages.test_dashboard import sign_in

GRANTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def alice_approves(db, client_id: str, consent_id: str, *, uses: tuple[datetime, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    """Alice's approval at ``GRANTED`` (as the consent page records it), then one access at each of ``uses``."""
    async with db.session() as session:
        await service.authorise(session=session, consent_id=consent_id, client_id=client_id, psu_id=alice_psu_id(),
                                account_ids=account_ids("alice")[:1], available_account_ids=account_ids("alice"),
                                now=GRANTED)
        for at in uses:
            await service.record_access(session=session, consent_id=consent_id, client_id=client_id,
                                        endpoint="/accounts", customer_present=False, now=at)


async def two_apps(client, db, tpp) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """Budget Buddy: an AIS consent used on 5 and 20 March; Pay Checker: a funds-confirmation consent, revoked."""
    other = await insert_client(db, scope=ALL_SCOPES, client_name="Pay Checker")
    ais = await lodge_account_access(db, tpp.client_id)
    await alice_approves(db, tpp.client_id, ais, uses=(datetime(2026, 3, 5, 8, tzinfo=UTC),
                                                       datetime(2026, 3, 20, 8, tzinfo=UTC)))
    funds = await lodge_funds_confirmation(db, other.client_id)
    await alice_approves(db, other.client_id, funds)
    async with db.session() as session:
        await service.revoke(session=session, consent_id=funds, psu_id=alice_psu_id(),
                             now=datetime(2026, 3, 2, tzinfo=UTC))
    return ais, funds, other.client_id


async def test_each_consent_says_its_kind_app_and_dates_in_plain_words(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)
    html = (await sign_in(client)).text
    assert f'<h4 id="consent-{ais}">Account information (AIS) &middot;' in html
    assert f'<h4 id="consent-{funds}">Funds confirmation &middot;' in html
    assert "<th scope=\"row\">App</th><td>Pay Checker</td>" in html
    assert "Granted</th><td>1 March 2026 09:00 UTC" in html
    assert "Last used</th><td>20 March 2026 08:00 UTC (/accounts)" in html
    assert "The app may check whether your account has enough money for a payment." in html


async def test_the_filter_form_is_a_labelled_get_form(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    await two_apps(client, db, tpp)
    html = (await sign_in(client)).text
    assert '<form method="get" action="/consents">' in html
    for control in ("filter-tpp", "filter-kind", "filter-status", "filter-from", "filter-to"):
        assert f'<label class="field" for="{control}">' in html and f'id="{control}"' in html
    assert '<option value="funds">Funds confirmation</option>' in html


async def test_filter_by_tpp_kind_and_status(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, other = await two_apps(client, db, tpp)
    await sign_in(client)
    by_tpp = (await client.get("/consents", params={"tpp": other})).text
    assert funds in by_tpp and ais not in by_tpp
    assert f'<option value="{other}" selected>Pay Checker</option>' in by_tpp
    by_kind = (await client.get("/consents", params={"kind": "ais"})).text
    assert ais in by_kind and funds not in by_kind
    active = (await client.get("/consents", params={"status": "active"})).text
    assert ais in active and funds not in active
    past = (await client.get("/consents", params={"status": "past"})).text
    assert funds in past and ais not in past
    nothing = (await client.get("/consents", params={"kind": "vrp"})).text
    assert "No consent matches these filters." in nothing


async def test_a_date_range_shows_only_the_history_entries_inside_it(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)
    await sign_in(client)
    html = (await client.get("/consents", params={"from": "2026-03-05", "to": "2026-03-05"})).text
    assert ais in html and funds not in html  # the funds consent has nothing on 5 March
    assert "5 March 2026 08:00 UTC: Used: /accounts" in html
    assert "20 March 2026" not in html.split("History (1)")[1].split("</details>")[0]


async def test_a_filter_value_that_makes_no_sense_is_ignored_and_said(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)
    await sign_in(client)
    page = await client.get("/consents", params={"from": "yesterday", "tpp": "someone-elses-app"})
    assert page.status_code == 200
    assert "The from date is not a date like 2026-03-01" in page.text
    assert "That app is not one you gave access to" in page.text
    assert ais in page.text and funds in page.text


async def test_the_csv_export_is_one_row_per_event_with_the_same_filters(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, other = await two_apps(client, db, tpp)
    await sign_in(client)
    exported = await client.get("/consents/export.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="my-consent-history.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["consent_id"], r["event"]) for r in rows if r["consent_id"] == funds] == [
        (funds, "created"), (funds, "authorised"), (funds, "revoked")]
    assert len([r for r in rows if r["consent_id"] == ais]) == 4  # created, authorised, two accesses
    revoked = next(r for r in rows if r["event"] == "revoked")
    assert (revoked["tpp_name"], revoked["kind"], revoked["status"]) == ("Pay Checker", "Funds confirmation",
                                                                         "Revoked")
    assert revoked["at_utc"] == "2026-03-02T00:00:00+00:00" and revoked["actor"] == f"customer {alice_psu_id()}"
    narrowed = await client.get("/consents/export.csv", params={"tpp": other})
    assert {r["consent_id"] for r in csv.DictReader(io.StringIO(narrowed.text))} == {funds}


async def test_the_json_export_honours_the_filters_and_says_which(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)
    await sign_in(client)
    document = (await client.get("/consents/export", params={"kind": "ais", "from": "2026-03-01",
                                                                   "to": "2026-03-05"})).json()
    assert document["filters"] == {"kind": "ais", "from": "2026-03-01", "to": "2026-03-05"}
    [entry] = document["consents"]
    assert entry["consent_id"] == ais
    # Lodged today (outside the range), approved on 1 March, used on 5 and 20 March.
    assert [h["event"] for h in entry["history"]] == ["authorised", "accessed"]


async def test_the_dashboard_links_the_exports_and_print_with_its_filters(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    await two_apps(client, db, tpp)
    await sign_in(client)
    html = (await client.get("/consents", params={"kind": "ais", "status": "active"})).text
    assert 'href="/consents/export.csv?kind=ais&amp;status=active"' in html
    assert 'href="/consents/export?kind=ais&amp;status=active"' in html
    assert 'href="/consents/print?kind=ais&amp;status=active"' in html


async def test_the_printable_view_has_no_navigation_and_every_entry_open(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)
    await sign_in(client)
    page = await client.get("/consents/print")
    assert page.status_code == 200
    html = page.text
    assert "<form" not in html and "<details" not in html and "<nav" not in html
    assert ais in html and funds in html
    assert "20 March 2026 08:00 UTC: Used: /accounts" in html
    assert "You withdrew it" in html
    client.cookies.clear()
    assert (await client.get("/consents/print")).status_code == 303
    assert (await client.get("/consents/export.csv")).status_code == 303


async def test_an_ais_consent_confirmed_more_than_90_days_ago_says_the_app_may_ask_again(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ais, funds, _ = await two_apps(client, db, tpp)  # approved on 1 March 2026, more than 90 days ago
    recent = await lodge_account_access(db, tpp.client_id)
    async with db.session() as session:
        await service.authorise(session=session, consent_id=recent, client_id=tpp.client_id,
                                psu_id=alice_psu_id(), account_ids=account_ids("alice")[:1],
                                available_account_ids=account_ids("alice"), now=datetime.now(UTC))
    html = (await sign_in(client)).text
    note = ("Budget Buddy may ask you to confirm this access again: you last confirmed it more than 90 days ago, "
            "on 1 March 2026.")
    cards = {cid: html.split(f'id="consent-{cid}"')[1].split("</article>")[0] for cid in (ais, funds, recent)}
    assert note in cards[ais]
    assert "may ask you to confirm" not in cards[recent]  # confirmed today
    assert "may ask you to confirm" not in cards[funds]  # not account information, and withdrawn
