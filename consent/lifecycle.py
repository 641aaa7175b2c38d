"""Consent statuses and the transitions allowed between them, per consent kind.

Sources: R/W API v3.1.11 account-access-consents "Account Access Consent Status", domestic-payment-consents
"State Model", funds-confirmation-consent "Status", and the AISP/PISP/CoF profiles (docs/obie-notes.md section 3).

Decisions where v3.1.11 leaves a gap or where our product differs:

* ``Deleted`` is internal. It records the TPP's ``DELETE`` (a soft delete, which the spec allows); it never
  appears on the wire because a later GET answers 400 ``UK.OBIE.Resource.NotFound``. The TPP may delete an AIS
  or CoF consent in any status: deleting grants nothing, and TPPs should delete expired or unused consents.
* ``Expired`` is internal. v3.1.11 defines no status for a passed ``ExpirationDateTime`` (v4.0 has ``EXPD``);
  we record the moment access stopped and report the spec's status, ``Authorised``, on the wire
  (``wire_status``), the TPP seeing ``ExpirationDateTime`` in the past.
* ``Revoked`` for account-access consents: v3.1.11 says a customer revoking at the ASPSP leaves the status
  unchanged (the tokens are revoked, and the AISP may re-authenticate the same consent). We do not support
  re-authenticating a consent the customer withdrew, so leaving it ``Authorised`` would only show the TPP a
  consent that can never work again. ``Revoked`` is still in the v3.1.11 ``OBReadConsentResponse1`` status
  enum, so we record and show it: the dashboard, the gateway and the TPP all see one truthful status, and the
  audit trail records who revoked and when. For funds-confirmation consents ``Revoked`` is the spec's own
  status (CoF profile: the PSU may revoke at the ASPSP).
* Domestic VRP consents (vrp-openapi.yaml ``OBDomesticVRPConsentResponse``, docs/obie-notes-vrp-events.md
  section 4): AwaitingAuthorisation -> Authorised or Rejected, never ``Consumed`` (one consent carries many
  payments within its ControlParameters). The TPP may DELETE one in any status (soft delete: a later GET is 400
  ``UK.OBIE.Resource.NotFound``, as for AIS consents); the customer may revoke an authorised one on the
  dashboard, which revokes its tokens. The response enum has no ``Revoked``, so a revoked VRP consent reads
  ``Authorised`` on the wire, as ``Expired`` does, while the gateway refuses every use of it; its passed
  ``ValidToDateTime`` is its expiry.
* Payment-order consents cannot be revoked once authorised (PSD2 art. 80) and have no DELETE: they only end
  ``Consumed`` when the payment order is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from typing import Final

from consent.errors import InvalidConsentStatus

if TYPE_CHECKING:
    from consent.models import Consent


class ConsentKind(StrEnum):
    ACCOUNT_ACCESS = "account-access"
    DOMESTIC_PAYMENT = "domestic-payment"
    DOMESTIC_SCHEDULED_PAYMENT = "domestic-scheduled-payment"
    DOMESTIC_STANDING_ORDER = "domestic-standing-order"
    FUNDS_CONFIRMATION = "funds-confirmation"
    DOMESTIC_VRP = "domestic-vrp"


class ConsentStatus(StrEnum):
    AWAITING_AUTHORISATION = "AwaitingAuthorisation"
    AUTHORISED = "Authorised"
    REJECTED = "Rejected"
    CONSUMED = "Consumed"
    REVOKED = "Revoked"
    # Internal states (see the module docstring): never sent as such to a TPP.
    DELETED = "Deleted"
    EXPIRED = "Expired"


K = ConsentKind
S = ConsentStatus

PAYMENT_KINDS: Final = frozenset({K.DOMESTIC_PAYMENT, K.DOMESTIC_SCHEDULED_PAYMENT, K.DOMESTIC_STANDING_ORDER})
# Every consent under the ``payments`` scope whose creation is idempotent and signed: the payment orders' and VRP.
PISP_KINDS: Final = PAYMENT_KINDS | {K.DOMESTIC_VRP}

# ConsentId prefixes: the kind is visible in the id, as many ASPSPs do (``aac-`` account-access consent, ...).
ID_PREFIXES: Final[Mapping[ConsentKind, str]] = {
    K.ACCOUNT_ACCESS: "aac",
    K.DOMESTIC_PAYMENT: "pdc",
    K.DOMESTIC_SCHEDULED_PAYMENT: "sdpc",
    K.DOMESTIC_STANDING_ORDER: "sdoc",
    K.FUNDS_CONFIRMATION: "fcc",
    K.DOMESTIC_VRP: "vrpc",
}

_PAYMENT: Final[Mapping[ConsentStatus, frozenset[ConsentStatus]]] = {
    # DPC "State Model": AwaitingAuthorisation -> Authorised | Rejected; Authorised -> Consumed.
    S.AWAITING_AUTHORISATION: frozenset({S.AUTHORISED, S.REJECTED}),
    S.AUTHORISED: frozenset({S.CONSUMED}),
}

# Consents that serve many calls until revoked, expired or deleted: account access, funds confirmation, VRP.
_LONG_LIVED: Final[Mapping[ConsentStatus, frozenset[ConsentStatus]]] = {
        S.AWAITING_AUTHORISATION: frozenset({S.AUTHORISED, S.REJECTED, S.DELETED}),
        S.AUTHORISED: frozenset({S.REVOKED, S.DELETED, S.EXPIRED}),
        S.REJECTED: frozenset({S.DELETED}),
        S.REVOKED: frozenset({S.DELETED}),
        S.EXPIRED: frozenset({S.DELETED}),
}

TRANSITIONS: Final[Mapping[ConsentKind, Mapping[ConsentStatus, frozenset[ConsentStatus]]]] = {
    K.ACCOUNT_ACCESS: _LONG_LIVED,
    K.DOMESTIC_PAYMENT: _PAYMENT,
    K.DOMESTIC_SCHEDULED_PAYMENT: _PAYMENT,
    K.DOMESTIC_STANDING_ORDER: _PAYMENT,
    # CoF profile: Authorised -> Revoked at the ASPSP; the CBPII DELETEs on revocation at the TPP.
    K.FUNDS_CONFIRMATION: _LONG_LIVED,
    # VRP: AwaitingAuthorisation -> Authorised | Rejected; never Consumed (it carries many payments); the
    # customer may revoke it at the bank, the TPP may DELETE it in any status (module docstring).
    K.DOMESTIC_VRP: _LONG_LIVED,
}


# The kinds a customer may re-authenticate while Authorised (same consent, new tokens): those with the long-lived map.
REAUTHENTICABLE: Final[frozenset[ConsentKind]] = frozenset(k for k, table in TRANSITIONS.items() if table is _LONG_LIVED)


def reauthenticable(kind: str) -> bool:
    return kind in {k.value for k in REAUTHENTICABLE}


def allowed(*, kind: str, start: str, to: str) -> bool:
    """Whether ``kind`` may move from ``start`` to ``to``. Unknown kinds or statuses allow nothing."""
    try:
        table = TRANSITIONS[ConsentKind(kind)]
        return ConsentStatus(to) in table.get(ConsentStatus(start), frozenset())
    except ValueError:
        return False


def check_transition(*, consent_id: str, kind: str, start: str, to: str) -> None:
    if not allowed(kind=kind, start=start, to=to):
        raise InvalidConsentStatus(
            f"Consent is {wire_status(kind=kind, status=start)}",
            detail=f"{consent_id} ({kind}): {start} -> {to}",
        )


def transition(consent: Consent, to: ConsentStatus, *, now: datetime) -> None:
    """Move ``consent`` to ``to`` in memory, or raise ``InvalidConsentStatus``.

    The service persists transitions with a conditional update (``WHERE status = <start>``) so that two
    concurrent changes cannot both succeed; this function is the rule they both apply.
    """
    check_transition(consent_id=consent.consent_id, kind=consent.kind, start=consent.status, to=to)
    consent.status, consent.status_updated_at = to, now


def wire_status(*, kind: str, status: str) -> str:
    """The v3.1.11 status the TPP sees. ``Expired`` is reported as ``Authorised`` (v3.1.11 has no status for it),
    and so is a revoked VRP consent (its response enum has no ``Revoked``: module docstring)."""
    if status == S.EXPIRED or (kind == K.DOMESTIC_VRP and status == S.REVOKED):
        return S.AUTHORISED.value
    return str(status)

