"""Known-valid request bodies for the OBIE consent POSTs (the v3.1.11 specification examples' values).

A document alone cannot generate a body the business rules accept (permission combinations, namespaced
``SchemeName`` values, future dates: AISP/PISP profiles), so even-numbered positive cases send one of these
with the generated headers, and odd-numbered ones keep the generated body to exercise validation.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

CREDITOR = {
    "SchemeName": "UK.OBIE.SortCodeAccountNumber",
    "Identification": "08080021325698",
    "Name": "ACME Inc",
}


def _future(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def vrp_controls() -> dict[str, Any]:
    return {
        "ValidToDateTime": _future(365),
        "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
        "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Consent", "Amount": "5000.00",
                            "Currency": "GBP"}],
        "VRPType": ["UK.OBIE.VRPType.Sweeping"],
        "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
        "PSUInteractionTypes": ["OffSession"],
    }


def vrp_initiation() -> dict[str, Any]:
    return {"CreditorAccount": dict(CREDITOR), "RemittanceInformation": {"Reference": "Sweep"}}


def vrp_payment(*, consent_id: str, consent_body: dict[str, Any], n: int) -> dict[str, Any]:
    """OBDomesticVRPRequest for the consent: its Initiation and Risk, one Instruction of GBP 1.00."""
    initiation = consent_body["Data"]["Initiation"]
    return {
        "Data": {
            "ConsentId": consent_id, "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired",
            "PSUInteractionType": "OffSession", "VRPType": "UK.OBIE.VRPType.Sweeping", "Initiation": initiation,
            "Instruction": {
                "InstructionIdentification": f"VRP{n}", "EndToEndIdentification": f"VRP{n}",
                "RemittanceInformation": {"Reference": initiation["RemittanceInformation"]["Reference"]},
                "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"},
                "CreditorAccount": dict(initiation["CreditorAccount"]),
            },
        },
        "Risk": consent_body["Risk"],
    }


def _initiation() -> dict[str, Any]:
    return {
        "InstructionIdentification": "ACME412",
        "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
        "CreditorAccount": dict(CREDITOR),
        "RemittanceInformation": {"Reference": "FRESCO-101"},
    }


def valid_body(operation_id: str) -> dict[str, Any] | None:
    """A body the consent service accepts for ``operation_id``, or None when the operation takes none."""
    risk = {"PaymentContextCode": "EcommerceGoods"}
    if operation_id == "CreateEventSubscriptions":
        return {"Data": {"Version": "3.1", "CallbackUrl": "https://tpp.example.com/obie"}}
    if operation_id == "CreateAccountAccessConsents":
        return {
            "Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"], "ExpirationDateTime": _future(30)},
            "Risk": {},
        }
    if operation_id == "CreateDomesticPaymentConsents":
        return {"Data": {"Initiation": _initiation()}, "Risk": risk}
    if operation_id == "CreateDomesticScheduledPaymentConsents":
        initiation = {**_initiation(), "RequestedExecutionDateTime": _future(7)}
        return {"Data": {"Permission": "Create", "Initiation": initiation}, "Risk": risk}
    if operation_id == "CreateDomesticStandingOrderConsents":
        initiation = {
            "Frequency": "EvryWorkgDay",
            "Reference": "Pocket money",
            "FirstPaymentDateTime": _future(7),
            "FirstPaymentAmount": {"Amount": "6.66", "Currency": "GBP"},
            "CreditorAccount": dict(CREDITOR),
        }
        return {"Data": {"Permission": "Create", "Initiation": initiation}, "Risk": risk}
    if operation_id == "domesticVrpConsentsPost":
        # A sweeping VRP consent (OBDomesticVRPConsentRequest) roomy enough for every payment a run makes.
        return {"Data": {"ControlParameters": vrp_controls(), "Initiation": vrp_initiation()},
                "Risk": {"PaymentContextCode": "PartyToParty"}}
    if operation_id == "CreateFundsConfirmationConsents":
        debtor = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "40400422390112", "Name": "Mrs B Smith"}
        return {"Data": {"ExpirationDateTime": _future(30), "DebtorAccount": debtor}}
    return None
