"""Bytes that are not UTF-8 where the R/W API expects text (query parameters, header values, path segments) are a
400 in the OBIE error form (R/W API "Error Response Structure"), never a server error, and reach no backend."""

from __future__ import annotations

from tests.integration.gateway.conftest import AIS
from tests.integration.gateway.conftest import make_grant

PRESENT = {"x-fapi-customer-ip-address": "198.51.100.7"}


async def test_a_query_parameter_that_is_not_utf8_is_400(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsDebits"])
    path = f"{AIS}/accounts/{grant.account_ids[0]}/transactions"
    response = await gw.get(path + "?fromBookingDateTime=%FF%FE", headers=grant.headers("GET", path, **PRESENT))
    assert response.status_code == 400, response.text
    assert response.json()["Errors"][0]["ErrorCode"].startswith("UK.OBIE.Field.")


async def test_a_header_value_that_is_not_utf8_is_400(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic"])
    path = f"{AIS}/accounts"
    headers = {**grant.headers("GET", path), "x-fapi-customer-ip-address": b"\xff\xfe",
               "x-fapi-interaction-id": b"\xc3\x28"}
    response = await gw.get(path, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Header.Invalid"


async def test_a_path_segment_that_is_not_utf8_is_refused_without_a_server_error(gw, db) -> None:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic"])
    path = f"{AIS}/accounts/%FF%FE"
    response = await gw.get(path, headers=grant.headers("GET", path, **PRESENT))
    assert 400 <= response.status_code < 500, response.text


async def test_an_authorize_query_that_is_not_utf8_is_400(gw) -> None:  # type: ignore[no-untyped-def]
    response = await gw.get("/authorize?client_id=%FF&request_uri=%FE")
    assert 400 <= response.status_code < 500, response.text
