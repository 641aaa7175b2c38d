"""The one translation between OBIE wire JSON and the consent domain (R/W API v3.1.11).

Requests: the raw body is parsed strictly (UTF-8, JSON, no duplicate member names: R/W API "Character Encoding"),
its date-times and account identifications are checked, and the domain gets ``Data``/``Risk`` as sent.
Responses: ``OBReadConsentResponse1``, ``OBWriteDomesticConsentResponse5``,
``OBWriteDomesticScheduledConsentResponse5``, ``OBWriteDomesticStandingOrderConsentResponse6``,
``OBFundsConfirmationConsentResponse1`` and VRP's ``OBDomesticVRPConsentResponse`` (vrp-openapi.yaml): the request echoed, the ASPSP fields added, ``Links.Self`` an absolute
URL under the issuer, ``Meta`` present (R/W API "Common Payload Structure", "Links", "Meta"), optional fields
omitted rather than null ("Optional Fields"), and response date-times with a zone offset ("Date Formats").

Idempotency (R/W API "Idempotency"): the request hash is SHA-256 over the body canonicalised as JSON in the
manner of RFC 8785 (members sorted by name, no insignificant white space, UTF-8 without escapes), so a TPP that
re-indents or reorders the same JSON replays, while any changed name or value is a different request. Numbers
are canonicalised as Python reads them (``1`` and ``1.0`` differ); OBIE amounts are strings, so this touches
no money field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Final

from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest
from consent.errors import MalformedBody
from consent.errors import MissingConsentField
from consent.errors import MissingHeader
from consent.errors import UnsupportedScheme
from consent.lifecycle import ConsentKind
from consent.lifecycle import wire_status
from consent.models import Consent

K = ConsentKind

JSON_MEDIA_TYPE: Final = "application/json; charset=utf-8"
IDEMPOTENCY_HEADER: Final = "x-idempotency-key"


# OBExternalAccountIdentification4Code (R/W API v3.1.11 namespaced enumerations, the OAS x-namespaced-enum).
ACCOUNT_SCHEMES: Final = frozenset(
    {
        "UK.OBIE.BBAN",
        "UK.OBIE.IBAN",
        "UK.OBIE.PAN",
        "UK.OBIE.Paym",
        "UK.OBIE.SortCodeAccountNumber",
        "UK.OBIE.Wallet",
    }
)
# Namespaced enumerations: UK.OBIE.SortCodeAccountNumber is the 6-digit sort code then the 8-digit number.
_SORT_CODE_ACCOUNT_NUMBER: Final = re.compile(r"^[0-9]{14}$")
_ACCOUNT_OBJECTS: Final = frozenset({"DebtorAccount", "CreditorAccount"})

# The request members each response schema echoes (everything else in Data would break additionalProperties).
_ECHOED_DATA: Final[Mapping[ConsentKind, tuple[str, ...]]] = {
    K.ACCOUNT_ACCESS: (
        "Permissions",
        "ExpirationDateTime",
        "TransactionFromDateTime",
        "TransactionToDateTime",
    ),
    K.DOMESTIC_PAYMENT: ("ReadRefundAccount", "Initiation", "Authorisation", "SCASupportData"),
    K.DOMESTIC_SCHEDULED_PAYMENT: (
        "Permission",
        "ReadRefundAccount",
        "Initiation",
        "Authorisation",
        "SCASupportData",
    ),
    K.DOMESTIC_STANDING_ORDER: (
        "Permission",
        "ReadRefundAccount",
        "Initiation",
        "Authorisation",
        "SCASupportData",
    ),
    K.FUNDS_CONFIRMATION: ("ExpirationDateTime", "DebtorAccount"),
    K.DOMESTIC_VRP: ("ReadRefundAccount", "ControlParameters", "Initiation"),
}
# OBFundsConfirmationConsentResponse1 has no Risk; every other consent response requires it.
_HAS_RISK: Final = frozenset(set(K) - {K.FUNDS_CONFIRMATION})


# --------------------------------------------------------------------------- requests


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            # Two members with one name: which one the bank and the TPP read is undefined; refuse.
            raise MalformedBody(f"Member {name!r} appears more than once")
        out[name] = value
    return out


def _no_constants(value: str) -> Any:
    raise MalformedBody(f"{value} is not valid JSON")


# Deepest nesting a request body may have: OBIE payloads are under ten levels deep; a deeper body is refused
# rather than walked (10,000 nested arrays would exhaust the parser's recursion).
MAX_JSON_DEPTH: Final = 64


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def loads_json(raw: bytes | str) -> Any:
    """Every JSON request body is parsed here: UTF-8 only, no duplicate member names, no NaN/Infinity, at
    most ``MAX_JSON_DEPTH`` levels deep (RFC 8259 sections 4 and 9). Anything else is ``MalformedBody`` (400)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise MalformedBody("The body must be UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise MalformedBody("The body is not valid JSON", detail=str(exc)) from None
    except RecursionError:
        raise MalformedBody(f"The body must not be nested more than {MAX_JSON_DEPTH} levels deep") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise MalformedBody(f"The body must not be nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object with a ``Data`` object; anything else is ``MalformedBody``."""
    body = loads_json(raw)
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object")
    if "Data" not in body:
        raise MissingConsentField("Data is required", path="Data")
    if not isinstance(body["Data"], dict):
        raise MalformedBody("Data must be an object", path="Data")
    return body


def request_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the parsed body in canonical JSON (module docstring: what is and is not the same)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_key(headers: Mapping[str, str]) -> str:
    """``x-idempotency-key`` as sent. Absent is ``Header.Missing``; its format (Max40Text, no surrounding white
    space) is the domain's check, answered ``Header.Invalid``."""
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        raise MissingHeader("x-idempotency-key is required: send a unique key (up to 40 characters) per new request", path=IDEMPOTENCY_HEADER)
    return value


def parse_datetime(value: Any, *, path: str) -> datetime:
    """An ISO 8601 date-time with a zone offset (R/W API "Date Formats"), as UTC; else ``InvalidConsentDate``."""
    if not isinstance(value, str) or "T" not in value:
        raise InvalidConsentDate("Expected an ISO 8601 date-time", path=path)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidConsentDate("Expected an ISO 8601 date-time", path=path) from None
    if parsed.tzinfo is None:
        # Without an offset the instant is unknown: refuse rather than guess a zone.
        raise InvalidConsentDate("The date-time must include a time zone offset", path=path)
    return parsed.astimezone(UTC)


def _check_account(account: Any, *, path: str) -> None:
    if not isinstance(account, Mapping):
        raise InvalidConsentRequest(f"{path} must be an object", path=path)
    scheme = account.get("SchemeName")
    if scheme is None:
        raise MissingConsentField("SchemeName is required", path=f"{path}.SchemeName")
    if scheme not in ACCOUNT_SCHEMES:
        raise UnsupportedScheme(f"Unsupported SchemeName {scheme!r}", path=f"{path}.SchemeName")
    identification = account.get("Identification")
    if not isinstance(identification, str) or not identification:
        raise MissingConsentField("Identification is required", path=f"{path}.Identification")
    if scheme == "UK.OBIE.SortCodeAccountNumber" and not _SORT_CODE_ACCOUNT_NUMBER.match(identification):
        raise InvalidConsentRequest(
            "A sort code and account number is 14 digits", path=f"{path}.Identification"
        )


def _walk(value: Any, *, path: str) -> None:
    """Check every ``*DateTime`` member and every debtor/creditor account anywhere under ``value``."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            where = f"{path}.{name}"
            if name.endswith("DateTime"):
                parse_datetime(item, path=where)
            elif name in _ACCOUNT_OBJECTS:
                _check_account(item, path=where)
            _walk(item, path=where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, path=f"{path}[{index}]")


def check_request(body: Mapping[str, Any], *, kind: ConsentKind) -> None:
    """The wire rules the domain does not own: date-time formats, account schemes, presence of ``Risk``."""
    _walk(body.get("Data"), path="Data")
    if kind in _HAS_RISK:
        if "Risk" not in body:
            raise MissingConsentField("Risk is required", path="Risk")
        if not isinstance(body["Risk"], dict):
            raise MalformedBody("Risk must be an object", path="Risk")


# --------------------------------------------------------------------------- responses


def format_datetime(value: datetime) -> str:
    """A response date-time: UTC with an explicit offset, e.g. ``2017-04-05T10:43:07+00:00``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime cannot be rendered")  # never guess a zone
    return value.astimezone(UTC).isoformat(timespec="seconds")


def render(consent: Consent, *, self_url: str) -> dict[str, Any]:
    """The consent as its OBIE response document."""
    kind = ConsentKind(consent.kind)
    data: dict[str, Any] = {
        "ConsentId": consent.consent_id,
        "Status": wire_status(kind=consent.kind, status=consent.status),
        "CreationDateTime": format_datetime(consent.created_at),
        "StatusUpdateDateTime": format_datetime(consent.status_updated_at),
    }
    # The request as the TPP sent it: the ASPSP must not modify ExpirationDateTime (AISP profile) nor the
    # Initiation (PISP profile); absent members stay absent.
    for name in _ECHOED_DATA[kind]:
        if consent.data.get(name) is not None:
            data[name] = consent.data[name]
    if kind == K.DOMESTIC_VRP and consent.authorised_at is not None and consent.debtor_account:
        # OBDomesticVRPConsentResponse: DebtorAccount "must be populated for GET responses once the consent is
        # approved"; the one the TPP named in the Initiation.
        data["DebtorAccount"] = consent.debtor_account
    document: dict[str, Any] = {"Data": data}
    if kind in _HAS_RISK:
        document["Risk"] = consent.risk
    document["Links"] = {"Self": self_url}
    document["Meta"] = {}
    return document


def dumps(document: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON for a response body (``application/json; charset=utf-8``)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# --------------------------------------------------------------------------- media types


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges: list[tuple[str, dict[str, str]]] = []
    for part in header.split(","):
        if not part.strip():
            continue
        media, *params = (p.strip() for p in part.split(";"))
        parsed: dict[str, str] = {}
        for param in params:
            name, sep, value = param.partition("=")
            if not sep:
                raise ValueError(f"bad media parameter {param!r}")
            parsed[name.strip().lower()] = value.strip().strip('"').lower()
        ranges.append((media.lower(), parsed))
    return ranges


def _utf8(params: Mapping[str, str]) -> bool:
    return params.get("charset", "utf-8") in ("utf-8", "utf8")


def is_json_content_type(header: str | None) -> bool:
    """Whether a request ``Content-Type`` is JSON in UTF-8 (R/W API "Request Headers"; else 415)."""
    if not header:
        return False
    try:
        ranges = _media_ranges(header)
    except ValueError:
        return False
    return len(ranges) == 1 and ranges[0][0] == "application/json" and _utf8(ranges[0][1])


def accepts_json(header: str | None) -> bool:
    """Whether ``Accept`` admits ``application/json; charset=utf-8`` (absent: yes; unparseable: no, 406)."""
    if header is None or not header.strip():
        return True
    try:
        ranges = _media_ranges(header)
    except ValueError:
        return False
    weighted: list[tuple[str, dict[str, str], float]] = []
    for media, params in ranges:
        try:
            weighted.append((media, params, float(params.get("q", "1"))))
        except ValueError:
            return False
    # RFC 9110 section 12.5.1: q=0 on application/json itself excludes it even if a wildcard admits it.
    if any(media == "application/json" and quality <= 0 for media, _, quality in weighted):
        return False
    return any(
        quality > 0 and media in ("*/*", "application/*", "application/json") and _utf8(params)
        for media, params, quality in weighted
    )
