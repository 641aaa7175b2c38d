"""Consent status transitions (R/W API v3.1.11 consent state models; docs/obie-notes.md section 3)."""

from __future__ import annotations

import itertools
from datetime import UTC
from datetime import datetime

import pytest

from consent.errors import InvalidConsentStatus
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import transition
from consent.lifecycle import wire_status
from consent.models import Consent

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# Written out by hand from the spec, independently of the TRANSITIONS table under test.
_AIS_LIKE = {
    "AwaitingAuthorisation->Authorised",
    "AwaitingAuthorisation->Rejected",
    "AwaitingAuthorisation->Deleted",
    "Authorised->Revoked",
    "Authorised->Deleted",
    "Authorised->Expired",
    "Rejected->Deleted",
    "Revoked->Deleted",
    "Expired->Deleted",
}
_PAYMENT = {
    "AwaitingAuthorisation->Authorised",
    "AwaitingAuthorisation->Rejected",
    "Authorised->Consumed",
}
ALLOWED = {
    "account-access": _AIS_LIKE,
    "funds-confirmation": _AIS_LIKE,
    "domestic-payment": _PAYMENT,
    "domestic-scheduled-payment": _PAYMENT,
    "domestic-standing-order": _PAYMENT,
    # VRP (vrp-openapi.yaml): decided like a payment consent, never consumed, deletable and revocable like AIS.
    "domestic-vrp": _AIS_LIKE,
}

CASES = [
    (kind, start, to, f"{start.value}->{to.value}" in ALLOWED[kind.value])
    for kind, start, to in itertools.product(ConsentKind, ConsentStatus, ConsentStatus)
]


def _consent(kind: ConsentKind, status: ConsentStatus) -> Consent:
    return Consent(
        consent_id="c-1",
        kind=kind.value,
        client_id="tpp",
        status=status.value,
        created_at=NOW,
        status_updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("kind", "start", "to", "is_allowed"),
    CASES,
    ids=[f"{k.value}:{s.value}->{t.value}:{'allowed' if a else 'refused'}" for k, s, t, a in CASES],
)
def test_transition_follows_the_state_model(
    kind: ConsentKind, start: ConsentStatus, to: ConsentStatus, is_allowed: bool
) -> None:
    consent = _consent(kind, start)
    later = NOW.replace(hour=13)
    if is_allowed:
        transition(consent, to, now=later)
        assert consent.status == to
        assert consent.status_updated_at == later
    else:
        with pytest.raises(InvalidConsentStatus) as refused:
            transition(consent, to, now=later)
        assert refused.value.status_code == 400
        assert refused.value.ob_code == "UK.OBIE.Resource.InvalidConsentStatus"
        assert consent.status == start
        assert consent.status_updated_at == NOW


def test_authorised_payment_consent_cannot_be_revoked_psd2_article_80() -> None:
    consent = _consent(ConsentKind.DOMESTIC_PAYMENT, ConsentStatus.AUTHORISED)
    with pytest.raises(InvalidConsentStatus):
        transition(consent, ConsentStatus.REVOKED, now=NOW)


def test_unknown_kind_allows_no_transition() -> None:
    consent = _consent(ConsentKind.ACCOUNT_ACCESS, ConsentStatus.AWAITING_AUTHORISATION)
    consent.kind = "international-payment"
    with pytest.raises(InvalidConsentStatus) as refused:
        transition(consent, ConsentStatus.AUTHORISED, now=NOW)
    assert refused.value.ob_code == "UK.OBIE.Resource.InvalidConsentStatus"


@pytest.mark.parametrize(
    ("status", "on_the_wire"),
    [
        (ConsentStatus.AWAITING_AUTHORISATION, "AwaitingAuthorisation"),
        (ConsentStatus.AUTHORISED, "Authorised"),
        (ConsentStatus.REJECTED, "Rejected"),
        (ConsentStatus.REVOKED, "Revoked"),
        (ConsentStatus.CONSUMED, "Consumed"),
        (ConsentStatus.EXPIRED, "Authorised"),
    ],
    ids=["awaiting", "authorised", "rejected", "revoked", "consumed", "expired-has-no-v3.1.11-status"],
)
def test_wire_status_uses_v3_1_11_values(status: ConsentStatus, on_the_wire: str) -> None:
    assert wire_status(kind="account-access", status=status) == on_the_wire


def test_a_revoked_vrp_consent_reads_authorised_on_the_wire_its_enum_having_no_revoked() -> None:
    assert wire_status(kind="domestic-vrp", status="Revoked") == "Authorised"
    assert wire_status(kind="account-access", status="Revoked") == "Revoked"
