"""The payment-order collections the gateway serves (OBIE R/W API v3.1.11 Payment Initiation, docs/obie-notes.md
section 2.2 endpoint table): their operations, id fields and response members, and the scheme statuses of
``/payment-details``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from typing import Final

from consent.lifecycle import ConsentKind


@dataclass(frozen=True, kw_only=True)
class OrderKind:
    """One payment-order collection and what it needs (docs/obie-notes.md section 2.2 endpoint table)."""

    collection: str
    consent_kind: ConsentKind
    id_field: str
    create_operation: str
    read_operation: str
    details_operation: str
    # Data members the 201/200 response schema declares (read from openapi/ at start-up; it forbids others).
    data_fields: frozenset[str] = frozenset()


KINDS: Final[tuple[OrderKind, ...]] = (
    OrderKind(collection="domestic-payments", consent_kind=ConsentKind.DOMESTIC_PAYMENT,
              id_field="DomesticPaymentId", create_operation="CreateDomesticPayments",
              read_operation="GetDomesticPaymentsDomesticPaymentId",
              details_operation="GetDomesticPaymentsDomesticPaymentIdPaymentDetails"),
    OrderKind(collection="domestic-scheduled-payments", consent_kind=ConsentKind.DOMESTIC_SCHEDULED_PAYMENT,
              id_field="DomesticScheduledPaymentId", create_operation="CreateDomesticScheduledPayments",
              read_operation="GetDomesticScheduledPaymentsDomesticScheduledPaymentId",
              details_operation="GetDomesticScheduledPaymentsDomesticScheduledPaymentIdPaymentDetails"),
    OrderKind(collection="domestic-standing-orders", consent_kind=ConsentKind.DOMESTIC_STANDING_ORDER,
              id_field="DomesticStandingOrderId", create_operation="CreateDomesticStandingOrders",
              read_operation="GetDomesticStandingOrdersDomesticStandingOrderId",
              details_operation="GetDomesticStandingOrdersDomesticStandingOrderIdPaymentDetails"),
)
PAYMENTS_API: Final = "payments"  # gateway.contract.specs.API_FILES
FUNDS_OPERATION: Final = "GetDomesticPaymentConsentsConsentIdFundsConfirmation"
# OBWritePaymentDetailsResponse1 speaks the scheme's transfer statuses (ISO 20022 in OB names); scheduled payments
# and standing orders carry initiation statuses (v3.1.11), so /payment-details translates those. The bank's own
# word stays in StatusDetail.Status.
_SCHEME_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    "InitiationPending": "Pending",
    "InitiationCompleted": "Accepted",
    "InitiationFailed": "Rejected",
    "Cancelled": "Cancelled",
})


def scheme_statuses(data: Mapping[str, Any]) -> dict[str, Any]:
    """``/payment-details`` Data with every initiation status given as its scheme status."""
    out = dict(data)
    statuses = data.get("PaymentStatus")
    if isinstance(statuses, list):
        out["PaymentStatus"] = [
            {**entry, "Status": _SCHEME_STATUS.get(str(entry.get("Status")), entry.get("Status"))}
            if isinstance(entry, dict) else entry
            for entry in statuses
        ]
    return out


def _resolve(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    while isinstance(ref, str):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        schema, ref = node, node.get("$ref")
    return schema


def response_data_fields(document: Mapping[str, Any], *, path: str, method: str, status: str) -> frozenset[str]:
    """The ``Data`` members an operation's response schema declares (``additionalProperties: false`` there)."""
    operation = document["paths"][path][method]
    content = _resolve(document, operation["responses"][status])["content"]
    schema = _resolve(document, next(iter(content.values()))["schema"])
    data = _resolve(document, schema["properties"]["Data"])
    return frozenset(data.get("properties", {}))
