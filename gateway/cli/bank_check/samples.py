"""What the kit sends where a body is needed: payment Initiations and a VRP Instruction in the OBIE examples'
shapes (Payment Initiation API v3.1.11 ``OBWriteDomestic2``, ``OBWriteDomesticScheduled2``,
``OBWriteDomesticStandingOrder3``; VRP API v3.1.11 ``OBDomesticVRPInitiation`` and ``OBDomesticVRPInstruction``),
in the debtor account's currency, for small amounts a test account can pay."""

from __future__ import annotations

from typing import Any
from typing import Final

CREDITOR: Final = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                   "Name": "ACME Inc", "SecondaryIdentification": "0002"}
ID_FIELDS: Final = {
    "domestic-payments": "DomesticPaymentId",
    "domestic-scheduled-payments": "DomesticScheduledPaymentId",
    "domestic-standing-orders": "DomesticStandingOrderId",
    "domestic-vrps": "DomesticVRPId",
}


def initiation(collection: str, *, currency: str, reference: str) -> dict[str, Any]:
    amount = {"Amount": "1.00", "Currency": currency}
    if collection == "domestic-standing-orders":
        return {"Frequency": "EvryWorkgDay", "Reference": reference[:35], "FirstPaymentDateTime": "2099-06-06T06:06:06+00:00",
                "FirstPaymentAmount": amount, "CreditorAccount": dict(CREDITOR)}
    if collection == "domestic-vrps":
        return {"CreditorAccount": dict(CREDITOR), "RemittanceInformation": {"Reference": reference[:35]}}
    body: dict[str, Any] = {"InstructionIdentification": reference[:35], "EndToEndIdentification": reference[:35],
                            "InstructedAmount": amount, "CreditorAccount": dict(CREDITOR),
                            "RemittanceInformation": {"Reference": reference[:35]}}
    if collection == "domestic-scheduled-payments":
        body["RequestedExecutionDateTime"] = "2099-04-05T10:43:07+00:00"
    return body


def instruction(*, currency: str, reference: str) -> dict[str, Any]:
    return {"InstructionIdentification": reference[:35], "EndToEndIdentification": reference[:35],
            "RemittanceInformation": {"Reference": reference[:35]},
            "InstructedAmount": {"Amount": "1.00", "Currency": currency}, "CreditorAccount": dict(CREDITOR)}
