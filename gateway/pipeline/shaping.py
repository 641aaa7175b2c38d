"""Step 8 of the enforcement pipeline (docs/architecture.md section 3): cut the backend's full view to the consent.

The backend answers the Detail view of every record; this module removes what the consent does not grant, from
the rules in ``consent.permissions`` (AISP profile "Permissions", "Detail Permissions", "Reversing Entries";
docs/obie-notes.md section 4):

* records of accounts outside the consent are dropped (bulk endpoints; fail closed: a record of an account-level
  resource without ``AccountId`` is dropped too);
* Basic-only consents lose the Detail fields (``DETAIL_FIELDS``) of accounts, beneficiaries, standing orders,
  scheduled payments, transactions and statements;
* transactions are kept only for the ``CreditDebitIndicator`` values granted (ReadTransactionsCredits/Debits);
* without ReadPAN every card number is masked: identifications under a PAN scheme (``UK.OBIE.PAN``) and
  transaction ``CardInstrument.Identification`` keep their last four digits.

Pure functions over parsed JSON; a body that is not the OBIE envelope is a backend fault (502).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Final

from consent.permissions import DETAIL_FIELDS
from consent.permissions import LEVELLED_RESOURCES
from consent.permissions import can_see_pan
from consent.permissions import credit_debit_filter
from consent.permissions import detail_level
from gateway.backend.upstream import upstream_error

# Resource -> the key of its records under Data (account-info-openapi v3.1.11 OBRead* schemas).
DATA_KEYS: Final[Mapping[str, str]] = {
    "accounts": "Account",
    "balances": "Balance",
    "transactions": "Transaction",
    "beneficiaries": "Beneficiary",
    "direct-debits": "DirectDebit",
    "standing-orders": "StandingOrder",
    "scheduled-payments": "ScheduledPayment",
    "statements": "Statement",
    "products": "Product",
    "offers": "Offer",
    "party": "Party",
    "parties": "Party",
}
# Resources whose records belong to one account (and must carry AccountId).
ACCOUNT_RECORDS: Final = frozenset(DATA_KEYS) - {"party", "parties"}
PAN_SCHEMES: Final = frozenset({"UK.OBIE.PAN", "PAN"})
_VISIBLE_DIGITS: Final = 4


def mask_pan(value: str) -> str:
    """All but the last four characters replaced by ``*`` (at least four masked, however short the value)."""
    keep = value[-_VISIBLE_DIGITS:] if len(value) > 2 * _VISIBLE_DIGITS else ""
    return "*" * max(len(value) - len(keep), _VISIBLE_DIGITS) + keep


def _mask_pans(node: Any) -> Any:
    if isinstance(node, list):
        return [_mask_pans(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _mask_pans(value) for key, value in node.items()}
    identification = out.get("Identification")
    if isinstance(identification, str):
        scheme = out.get("SchemeName")
        is_card = "CardSchemeName" in out or "AuthorisationType" in out  # OBTransactionCardInstrument1
        if (isinstance(scheme, str) and scheme in PAN_SCHEMES) or is_card:
            out["Identification"] = mask_pan(identification)
    return out


def _records(data: dict[str, Any], key: str) -> tuple[list[Any], bool] | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, list):
        return value, True
    if isinstance(value, dict):
        return [value], False
    raise upstream_error(502, "The account service answered an unexpected document", detail=f"Data.{key}")


def shape(
    body: Any, *, resource: str, permissions: Iterable[str], account_ids: Iterable[str]
) -> dict[str, Any]:
    """The response body the consent allows; raises a 502 ``UpstreamError`` if ``body`` is not an OBIE read."""
    granted = frozenset(permissions)
    if not isinstance(body, dict) or not isinstance(body.get("Data"), dict):
        raise upstream_error(502, "The account service answered an unexpected document", detail="no Data")
    key = DATA_KEYS[resource]
    data = dict(body["Data"])
    found = _records(data, key)
    if found is None:
        return {**body, "Data": data}
    records, is_list = found
    allowed_accounts = frozenset(account_ids)

    kept: list[dict[str, Any]] = []
    hidden = DETAIL_FIELDS.get(resource, frozenset()) if resource in LEVELLED_RESOURCES and detail_level(
        permissions=granted, resource=resource
    ) == "Basic" else frozenset()
    directions = credit_debit_filter(granted) if resource == "transactions" else None
    for record in records:
        if not isinstance(record, dict):
            raise upstream_error(502, "The account service answered an unexpected document", detail=key)
        if resource in ACCOUNT_RECORDS or "AccountId" in record:
            if record.get("AccountId") not in allowed_accounts:
                continue
        if directions is not None and record.get("CreditDebitIndicator") not in directions:
            continue
        kept.append({name: value for name, value in record.items() if name not in hidden})
    if not can_see_pan(granted):
        kept = _mask_pans(kept)
    if is_list:
        data[key] = kept
    elif kept:
        data[key] = kept[0]
    else:
        del data[key]
    return {**body, "Data": data}
