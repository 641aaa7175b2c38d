"""Request checks of the enforcement pipeline (docs/architecture.md section 3, step 6) for account-information GETs.

Targeted checks prepared at start-up from the OBIE v3.1.11 account-info document, not openapi-core per request:
openapi-core request validation measured about 10 ms per call on this machine, more than the rest of the
pipeline together, and AIS GETs have no body, so the contract to check is small:

* query parameters: only those the operation declares (plus ``page``, our pagination links, R/W API profile
  "Pagination"), each at most once (else 400 ``UK.OBIE.Field.Unexpected``); ``format: date-time`` values must be
  ISO 8601 date-times in the variants the OBL conformance suite sends: date only, with or without seconds and
  fractions, with ``Z``, an offset or no zone (v3.1.11 fromBookingDateTime: "Time component is optional - set to
  00:00:00 for just Date. If the Date Time contains a timezone, the ASPSP must ignore the timezone component");
  anything else is 400 ``UK.OBIE.Field.InvalidDate`` with the parameter as ``Path``;
* ``Accept`` (R/W API "Request Headers": optional, default ``application/json``; unacceptable -> 406, and a
  charset other than UTF-8 -> 406);
* ``x-fapi-auth-date`` (RFC 7231 HTTP-date, the OAS pattern) and ``x-fapi-customer-ip-address`` (an IPv4 or IPv6
  address; FAPI 1 Baseline 6.2.1-13 must not reject a valid one): otherwise 400 ``UK.OBIE.Header.Invalid``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any
from typing import Final

from starlette.datastructures import Headers
from starlette.datastructures import QueryParams

from consent.wire import accepts_json
from gateway.contract.specs import OpenApiSpecs
from gateway.errors import FieldInvalid
from gateway.errors import FieldInvalidDate
from gateway.errors import FieldUnexpected
from gateway.errors import HeaderInvalid
from gateway.errors import NotAcceptable

PAGE_PARAM: Final = "page"
_MAX_PAGE: Final = 1_000_000
_PAGE: Final = re.compile(r"^[0-9]{1,7}$")
# ISO 8601 date or date-time as the conformance suite sends them; the zone, if any, is ignored.
_DATE_TIME: Final = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_FALLBACK_AUTH_DATE: Final = (
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} (GMT|UTC)$"
)
# The statement file is served in the bank's own format (Statements.md: PDF, or any format the ASPSP chooses).
OPAQUE_OPERATIONS: Final = frozenset({"GetAccountsAccountIdStatementsStatementIdFile"})


@dataclass(frozen=True, kw_only=True)
class QueryRule:
    allowed: frozenset[str]
    dates: frozenset[str]
    json_only: bool


@dataclass(frozen=True, kw_only=True)
class ValidatedRequest:
    dates: Mapping[str, datetime]
    page: int | None
    customer_present: bool


def parse_query_datetime(value: str) -> datetime | None:
    """The naive (zone-less) date-time an OBIE query parameter denotes, or None if it is not one."""
    found = _DATE_TIME.match(value)
    if found is None:
        return None
    text = found.group("date") + "T" + (found.group("time") or "00:00:00")
    if text.count(":") == 1:
        text += ":00"
    fraction = ""
    if "." in text:
        text, fraction = text.split(".")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return parsed


def check_accept(headers: Headers) -> None:
    """406 unless the client accepts JSON in UTF-8, the only representation served (RFC 9110 section 12.5.1,
    ``consent.wire.accepts_json``)."""
    if not accepts_json(headers.get("accept")):
        raise NotAcceptable("only application/json; charset=utf-8 is served")


@dataclass(frozen=True, kw_only=True)
class RequestValidator:
    rules: Mapping[str, QueryRule]  # by operationId
    auth_date: re.Pattern[str]
    presence_header: str

    @classmethod
    def build(cls, *, specs: OpenApiSpecs, presence_header: str, api: str = "accounts") -> RequestValidator:
        """Read each operation's query parameters and the header patterns once, from the OBIE document."""
        document: Mapping[str, Any] = specs.apis[api].document
        parameters = document.get("components", {}).get("parameters", {})

        def resolve(param: Mapping[str, Any]) -> Mapping[str, Any]:
            ref = param.get("$ref")
            return parameters[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else param

        rules: dict[str, QueryRule] = {}
        for item in document["paths"].values():
            shared = [resolve(p) for p in item.get("parameters", [])]
            for method, operation in item.items():
                if method == "parameters" or not isinstance(operation, Mapping):
                    continue
                declared = shared + [resolve(p) for p in operation.get("parameters", [])]
                query = [p for p in declared if p.get("in") == "query"]
                rules[operation["operationId"]] = QueryRule(
                    allowed=frozenset(p["name"] for p in query) | {PAGE_PARAM},
                    dates=frozenset(
                        p["name"] for p in query if p.get("schema", {}).get("format") in ("date-time", "date")
                    ),
                    json_only=operation["operationId"] not in OPAQUE_OPERATIONS,
                )
        pattern = parameters.get("x-fapi-auth-date", {}).get("schema", {}).get("pattern") or _FALLBACK_AUTH_DATE
        return cls(
            rules=MappingProxyType(rules), auth_date=re.compile(pattern), presence_header=presence_header.lower()
        )

    def validate(self, *, operation_id: str, query: QueryParams, headers: Headers) -> ValidatedRequest:
        rule = self.rules[operation_id]  # every prepared route has a rule: a miss is a programming error
        if rule.json_only:
            check_accept(headers)
        auth_date = headers.get("x-fapi-auth-date")
        if auth_date is not None and not self.auth_date.match(auth_date):
            raise HeaderInvalid("x-fapi-auth-date must be an RFC 7231 HTTP-date", path="x-fapi-auth-date")
        present = False
        ip = headers.get(self.presence_header)
        if ip is not None:
            try:
                ipaddress.ip_address(ip.strip())
            except ValueError:
                raise HeaderInvalid(
                    f"{self.presence_header} must be an IPv4 or IPv6 address", path=self.presence_header
                ) from None
            present = True
        dates: dict[str, datetime] = {}
        page: int | None = None
        seen: set[str] = set()
        for name, value in query.multi_items():
            if name not in rule.allowed:
                raise FieldUnexpected(f"query parameter {name} is not defined for this resource", path=name)
            if name in seen:
                raise FieldUnexpected(f"query parameter {name} given more than once", path=name)
            seen.add(name)
            if name in rule.dates:
                parsed = parse_query_datetime(value)
                if parsed is None:
                    raise FieldInvalidDate(f"{name} must be an ISO 8601 date-time", path=name)
                dates[name] = parsed
            elif name == PAGE_PARAM:
                if not _PAGE.match(value) or not 1 <= int(value) <= _MAX_PAGE:
                    raise FieldInvalid("page must be a positive integer", path=name)
                page = int(value)
        return ValidatedRequest(dates=MappingProxyType(dates), page=page, customer_present=present)
