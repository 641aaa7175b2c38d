"""What a VRP payment request must agree with in its consent, before any limit is counted (OBIE VRP API v3.1.11
``OBDomesticVRPRequest``, docs/obie-notes-vrp-events.md sections 2 and 5).

* ``Initiation`` and ``Risk`` equal to the consent's (400 ``UK.OBIE.Resource.ConsentMismatch``, as for the other
  payment orders);
* ``Instruction.CreditorAccount`` the consent's ``Initiation.CreditorAccount`` when the consent names one, and
  ``Instruction.RemittanceInformation.Reference`` its ``Initiation.RemittanceInformation.Reference`` when the
  consent gives one (the spec: "The PISP must populate this with the same value"; ``ConsentMismatch``);
* ``VRPType`` one of the consent's ``ControlParameters.VRPType`` and ``PSUAuthenticationMethod`` one of its
  ``PSUAuthenticationMethods`` (400 ``UK.OBIE.Rules.FailsControlParameters``); ``PSUInteractionType`` is checked
  with the amounts (``consent.vrp_controls.check_payment``);
* sweeping (``UK.OBIE.VRPType.Sweeping``): the creditor must be the account the consent names, so a sweeping
  payment needs a consent with ``Initiation.CreditorAccount`` (``FailsControlParameters``). That the creditor
  account is the customer's own is the bank's check (it knows whose accounts they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consent.vrp import SWEEPING
from consent.vrp_controls import FailsControlParameters
from gateway.pipeline.payment_checks import mismatch


def check_against_consent(*, data: Mapping[str, Any], risk: Any, consent_data: Mapping[str, Any],
                          consent_risk: Any, consent_id: str) -> None:
    """Refuse a VRP request that does not agree with its consent (module docstring); the schema has run."""
    initiation = consent_data.get("Initiation") or {}
    if data["Initiation"] != initiation:
        raise mismatch("The Initiation does not match the consent", "Data.Initiation", detail=consent_id)
    if risk != consent_risk:
        raise mismatch("The Risk does not match the consent", "Risk", detail=consent_id)
    instruction = data["Instruction"]
    creditor = initiation.get("CreditorAccount")
    if creditor is not None and instruction.get("CreditorAccount") != creditor:
        raise mismatch("The CreditorAccount is not the one the consent names", "Data.Instruction.CreditorAccount",
                       detail=consent_id)
    reference = (initiation.get("RemittanceInformation") or {}).get("Reference")
    if reference is not None and (instruction.get("RemittanceInformation") or {}).get("Reference") != reference:
        raise mismatch("The RemittanceInformation.Reference is not the consent's",
                       "Data.Instruction.RemittanceInformation.Reference", detail=consent_id)
    controls = consent_data.get("ControlParameters") or {}
    if data["VRPType"] not in controls.get("VRPType", ()):
        raise FailsControlParameters("The consent does not allow this VRPType", path="Data.VRPType",
                                     detail=f"{data['VRPType']} for {consent_id}")
    if data["PSUAuthenticationMethod"] not in controls.get("PSUAuthenticationMethods", ()):
        raise FailsControlParameters("The consent does not allow this PSUAuthenticationMethod",
                                     path="Data.PSUAuthenticationMethod", detail=consent_id)
    if data["VRPType"] == SWEEPING and creditor is None:
        raise FailsControlParameters("A sweeping payment goes to the account its consent names; this consent names "
                                     "none", path="Data.Instruction.CreditorAccount", detail=consent_id)
