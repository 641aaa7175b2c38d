"""Transactions: booking-date filters in every ISO 8601 variant a TPP sends (R/W API profile, "Date Formats"),
the consent's transaction window clamping them (AISP profile, "Transaction To/From Date Time"), and pages with
``Links.Next``/``Prev`` and ``Meta.TotalPages`` (R/W API profile, "Pagination")."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.security.keys import KeyStore
from sandbox.ais_transactions import PAGE_SIZE
from sandbox.customers import account_id

from ._ais_helpers import ais_context

DAVE = account_id(key="dave-business")
ALICE = account_id(key="alice-current")


async def get(sandbox: httpx.AsyncClient, keys: KeyStore, path: str, *, username: str = "alice",
              **claims: Any) -> httpx.Response:
    return await sandbox.get("/bank/v1/aisp" + path,
                             headers={"x-obgw-context": ais_context(keys.context_key, username=username, **claims)})


def booked(body: dict[str, Any]) -> list[str]:
    return [t["BookingDateTime"] for t in body["Data"]["Transaction"]]


async def test_pages_follow_next_to_the_end_and_cover_everything_once(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    first = (await get(sandbox, gateway_keys, f"/accounts/{DAVE}/transactions", username="dave")).json()
    pages = first["Meta"]["TotalPages"]
    assert pages > 2
    assert "Prev" not in first["Links"]
    seen, body, n = [], first, 1
    while True:
        assert len(body["Data"]["Transaction"]) <= PAGE_SIZE
        seen += [t["TransactionId"] for t in body["Data"]["Transaction"]]
        if "Next" not in body["Links"]:
            break
        nxt = urlsplit(body["Links"]["Next"])
        assert nxt.path == f"/open-banking/v3.1/aisp/accounts/{DAVE}/transactions"
        body = (await get(sandbox, gateway_keys, f"/accounts/{DAVE}/transactions?{nxt.query}", username="dave")).json()
        n += 1
        assert "Prev" in body["Links"]
    assert n == pages
    assert len(seen) == len(set(seen))
    assert body["Links"]["Self"] == first["Links"]["Last"]


async def test_next_link_keeps_the_filters(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    since = (datetime.now(UTC) - timedelta(days=120)).date().isoformat()
    body = (await get(sandbox, gateway_keys, f"/accounts/{DAVE}/transactions?fromBookingDateTime={since}",
                      username="dave")).json()
    assert f"fromBookingDateTime={since}" in body["Links"]["Next"]
    assert "page=2" in body["Links"]["Next"]


async def test_a_page_past_the_end_is_400(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?page=999")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == "page"


@pytest.mark.parametrize("page", ["0", "-1", "two", "1.5"])
async def test_a_malformed_page_is_400(sandbox: httpx.AsyncClient, gateway_keys: KeyStore, page: str) -> None:
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?page={page}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "lower,upper",
    [
        ("{d1}", "{d2}"),  # date only: the upper bound covers the whole day
        ("{d1}T00:00:00", "{d2}T23:59:59"),  # no timezone, as the profile asks
        ("{d1}T00:00:00Z", "{d2}T23:59:59Z"),  # with one: ignored
        ("{d1}T00:00:00.000", "{d2}T23:59:59.999"),
        ("{d1}T00:00:00%2B01:00", "{d2}T23:59:59%2B01:00"),
        ("{d1}T00:00", "{d2}T23:59:59.999999"),
    ],
)
async def test_booking_date_filters_accept_each_iso_variant(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, lower: str, upper: str
) -> None:
    d1 = (datetime.now(UTC) - timedelta(days=40)).date().isoformat()
    d2 = (datetime.now(UTC) - timedelta(days=33)).date().isoformat()
    query = f"fromBookingDateTime={lower.format(d1=d1)}&toBookingDateTime={upper.format(d2=d2)}"
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?{query}")
    assert response.status_code == 200, response.text
    dates = booked(response.json())
    assert dates
    assert all(d1 <= b[:10] <= d2 for b in dates)
    # Nothing of the days around the window, and everything inside it: the same as the date-only answer.
    plain = await get(sandbox, gateway_keys,
                      f"/accounts/{ALICE}/transactions?fromBookingDateTime={d1}&toBookingDateTime={d2}")
    assert dates == booked(plain.json())


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01", "2024-02-30", "20240101", "2024-01-01T25:00:00"])
async def test_an_invalid_booking_date_is_400(sandbox: httpx.AsyncClient, gateway_keys: KeyStore, bad: str) -> None:
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?fromBookingDateTime={bad}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == "fromBookingDateTime"


async def test_the_consent_window_clamps_the_filter(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    end = datetime.now(UTC) - timedelta(days=10)
    wide = "fromBookingDateTime=2000-01-01&toBookingDateTime=2100-01-01"
    body = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?{wide}",
                      transaction_from=start.isoformat(), transaction_to=int(end.timestamp()))).json()
    dates = [datetime.fromisoformat(b.replace("Z", "+00:00")) for b in booked(body)]
    assert dates
    assert all(start <= d <= end for d in dates)


async def test_a_filter_entirely_outside_the_window_is_empty_not_an_error(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?toBookingDateTime=2001-01-01",
                         transaction_from=start.isoformat())
    assert response.status_code == 200
    assert response.json()["Data"]["Transaction"] == []
    assert response.json()["Meta"]["TotalPages"] == 1


async def test_only_statements_wholly_inside_the_window_are_listed(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    everything = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements")).json()["Data"]["Statement"]
    middle = everything[2]
    body = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements",
                      transaction_from=middle["StartDateTime"], transaction_to=middle["EndDateTime"])).json()
    assert [s["StatementId"] for s in body["Data"]["Statement"]] == [middle["StatementId"]]


async def test_transactions_have_running_balances_and_todays_card_payments_are_pending(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    body = (await get(sandbox, gateway_keys, "/transactions", username="dave")).json()
    for t in body["Data"]["Transaction"]:
        if t["Status"] == "Booked":
            assert t["Balance"]["Type"] == "InterimBooked"
            assert t["TransactionMutability"] == "Immutable"
        else:
            assert t["Status"] == "Pending" and "Balance" not in t
            assert t["BookingDateTime"][:10] == datetime.now(UTC).date().isoformat()
    assert body["Meta"]["FirstAvailableDateTime"] < body["Meta"]["LastAvailableDateTime"]
