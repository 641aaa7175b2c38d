"""AIS request checks prepared at start-up (R/W API v3.1.11 "Request Headers", query date formats)."""

from __future__ import annotations

from datetime import datetime

import pytest
from starlette.datastructures import Headers
from starlette.datastructures import QueryParams

from gateway.errors import BadRequest
from gateway.errors import NotAcceptable
from gateway.pipeline.validation import RequestValidator
from gateway.pipeline.validation import parse_query_datetime

TRANSACTIONS = "GetAccountsAccountIdTransactions"


@pytest.fixture(scope="module")
def validator(contract) -> RequestValidator:  # type: ignore[no-untyped-def]
    specs, _ = contract
    return RequestValidator.build(specs=specs, presence_header="x-fapi-customer-ip-address")


def _check(validator: RequestValidator, *, query: str = "", headers: dict[str, str] | None = None,
           operation: str = TRANSACTIONS):
    return validator.validate(operation_id=operation, query=QueryParams(query), headers=Headers(headers or {}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", datetime(2024, 3, 1)),
        ("2024-03-01T10:20", datetime(2024, 3, 1, 10, 20)),
        ("2024-03-01T10:20:30", datetime(2024, 3, 1, 10, 20, 30)),
        ("2024-03-01T10:20:30.123", datetime(2024, 3, 1, 10, 20, 30, 123000)),
        ("2024-03-01T10:20:30Z", datetime(2024, 3, 1, 10, 20, 30)),
        ("2024-03-01T10:20:30+01:00", datetime(2024, 3, 1, 10, 20, 30)),
        ("2024-03-01T10:20:30.000000001-0500", datetime(2024, 3, 1, 10, 20, 30)),
    ],
)
def test_query_dates_accept_the_iso_8601_variants_and_ignore_the_zone(text: str, expected: datetime) -> None:
    assert parse_query_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-02-30", "01/03/2024", "2024-03-01T25:00",
                                  "2024-03-01 10:00:00", "１２３４-03-01"])
def test_bad_booking_date_is_400_invalid_date(validator: RequestValidator, text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, query=str(QueryParams({"fromBookingDateTime": text})))
    assert caught.value.status_code == 400
    assert caught.value.errors[0].code == "UK.OBIE.Field.InvalidDate"
    assert caught.value.errors[0].path == "fromBookingDateTime"


def test_valid_booking_dates_are_returned_parsed(validator: RequestValidator) -> None:
    checked = _check(validator, query="fromBookingDateTime=2024-01-01&toBookingDateTime=2024-02-01T00:00:00Z")
    assert checked.dates == {"fromBookingDateTime": datetime(2024, 1, 1), "toBookingDateTime": datetime(2024, 2, 1)}


def test_query_parameter_not_defined_for_the_operation_is_400_unexpected(validator: RequestValidator) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, query="fromBookingDateTime=2024-01-01", operation="GetAccountsAccountIdBalances")
    assert caught.value.status_code == 400 and caught.value.errors[0].code == "UK.OBIE.Field.Unexpected"


def test_repeated_query_parameter_is_400_unexpected(validator: RequestValidator) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, query="fromBookingDateTime=2024-01-01&fromBookingDateTime=2024-01-02")
    assert caught.value.status_code == 400 and caught.value.errors[0].code == "UK.OBIE.Field.Unexpected"


@pytest.mark.parametrize("page", ["0", "-1", "x", "1.5", "99999999"])
def test_bad_page_is_400_field_invalid(validator: RequestValidator, page: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, query=f"page={page}")
    assert caught.value.status_code == 400 and caught.value.errors[0].code == "UK.OBIE.Field.Invalid"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json; charset=iso-8859-1",
                                    "application/json;q=0"])
def test_unacceptable_accept_is_406(validator: RequestValidator, accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        _check(validator, headers={"accept": accept})
    assert caught.value.status_code == 406 and not caught.value.has_body


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json; charset=utf-8",
                                    "text/html, application/json;q=0.5", "application/*"])
def test_json_accept_is_served(validator: RequestValidator, accept: str) -> None:
    _check(validator, headers={"accept": accept})


def test_statement_file_is_not_limited_to_json(validator: RequestValidator) -> None:
    _check(validator, headers={"accept": "application/pdf"}, operation="GetAccountsAccountIdStatementsStatementIdFile")


@pytest.mark.parametrize("value", ["yesterday", "Sun, 10 Sep 2017 19:43:31 CET", "2017-09-10T19:43:31Z"])
def test_bad_fapi_auth_date_is_400_header_invalid(validator: RequestValidator, value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, headers={"x-fapi-auth-date": value})
    assert caught.value.status_code == 400
    assert caught.value.errors[0].code == "UK.OBIE.Header.Invalid"
    assert caught.value.errors[0].path == "x-fapi-auth-date"


def test_rfc_7231_fapi_auth_date_is_accepted(validator: RequestValidator) -> None:
    _check(validator, headers={"x-fapi-auth-date": "Sun, 10 Sep 2017 19:43:31 GMT"})


@pytest.mark.parametrize("value", ["not-an-ip", "300.1.1.1", "", "10.0.0.1, 10.0.0.2"])
def test_bad_customer_ip_address_is_400_header_invalid(validator: RequestValidator, value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _check(validator, headers={"x-fapi-customer-ip-address": value})
    assert caught.value.status_code == 400
    assert caught.value.errors[0].code == "UK.OBIE.Header.Invalid"
    assert caught.value.errors[0].path == "x-fapi-customer-ip-address"


@pytest.mark.parametrize("value", ["198.51.100.7", "2001:db8::1"])
def test_customer_ip_address_marks_the_customer_present(validator: RequestValidator, value: str) -> None:
    assert _check(validator, headers={"x-fapi-customer-ip-address": value}).customer_present
    assert not _check(validator).customer_present
