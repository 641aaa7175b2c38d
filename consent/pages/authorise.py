"""The consent page: what the customer sees before pressing Approve or Deny (docs/architecture.md section 1, journey 3).

OBIE R/W API v3.1.11, AISP profile "Consent Authorisation": the PSU accepts or rejects the consent as a whole and
chooses the accounts (the AISP cannot pre-select them). PISP profile: the PSU picks the debtor account of a payment
when the TPP did not name one, and sees payee, amount and reference. CoF profile: the funds-confirmation consent
names the account it checks. VRP: who is paid, the limits per payment and per period, the validity and whether it
is sweeping or commercial (``consent.vrp.describe``), and the one account to pay from. A re-authentication of an
Authorised consent shows the same, with the accounts it already shares, and asks to confirm it again. Permissions are shown in plain words (``consent.permissions.describe``).

The page is built from a plain dict (``consent_page_view``) and posts to the host's decision endpoint; the host
supplies the hidden form fields (CSRF token, request handle).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consent import vrp
from consent.bank import AccountSummary
from consent.lifecycle import PAYMENT_KINDS
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.pages.rendering import render
from consent.permissions import PermissionGroup
from consent.permissions import describe
from consent.permissions import long_date

K = ConsentKind

KIND_TITLES: Mapping[str, str] = {
    K.ACCOUNT_ACCESS: "see information about your accounts",
    K.DOMESTIC_PAYMENT: "make a payment from your account",
    K.DOMESTIC_SCHEDULED_PAYMENT: "make a future-dated payment from your account",
    K.DOMESTIC_STANDING_ORDER: "set up a standing order from your account",
    K.FUNDS_CONFIRMATION: "check whether your account has enough money for a payment",
    K.DOMESTIC_VRP: "make payments from your account when needed, within the limits below",
}


def account_label(account: AccountSummary) -> str:
    """``Everyday account (ending 5678)``: name and the masked number, never the full number."""
    return f"{account.name} ({account.masked_identification})"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _amount(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    amount, currency = _text(value.get("Amount")), _text(value.get("Currency"))
    return f"{amount} {currency}" if amount and currency else amount


def _date(value: Any) -> str | None:
    from datetime import datetime

    text = _text(value)
    if text is None:
        return None
    try:
        return long_date(datetime.fromisoformat(text))
    except ValueError:
        return text


def payment_details(consent: Consent) -> list[tuple[str, str]]:
    """Payee, amount, reference (and dates) of a payment-order consent, as (label, value) rows."""
    initiation = consent.data.get("Initiation") if isinstance(consent.data, Mapping) else None
    if not isinstance(initiation, Mapping):
        return []
    creditor = initiation.get("CreditorAccount")
    creditor = creditor if isinstance(creditor, Mapping) else {}
    remittance = initiation.get("RemittanceInformation")
    remittance = remittance if isinstance(remittance, Mapping) else {}
    rows: list[tuple[str, str | None]] = [("Payee", _text(creditor.get("Name")) or _text(creditor.get("Identification")))]
    if consent.kind == K.DOMESTIC_STANDING_ORDER:
        rows += [
            ("First payment", _amount(initiation.get("FirstPaymentAmount"))),
            ("First payment on", _date(initiation.get("FirstPaymentDateTime"))),
            ("Regular payment", _amount(initiation.get("RecurringPaymentAmount"))),
            ("How often", _text(initiation.get("Frequency"))),
            ("Reference", _text(initiation.get("Reference"))),
        ]
    else:
        rows += [
            ("Amount", _amount(initiation.get("InstructedAmount"))),
            ("Reference", _text(remittance.get("Reference")) or _text(remittance.get("Unstructured"))),
        ]
        if consent.kind == K.DOMESTIC_SCHEDULED_PAYMENT:
            rows.append(("Payment date", _date(initiation.get("RequestedExecutionDateTime"))))
    return [(label, value) for label, value in rows if value]


def _masked(identification: str) -> str:
    return f"ending {identification[-4:]}" if len(identification) >= 4 else "****"


def consent_page_view(
    *,
    consent: Consent | None,
    client_name: str,
    accounts: Sequence[AccountSummary],
    customer_name: str | None,
    action: str,
    hidden: Mapping[str, str],
    identity_words: Sequence[str] = (),
    chosen: Sequence[str] = (),
    message: str | None = None,
    granted_account_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything ``consent.html`` shows; ``consent`` is ``None`` for a sign-in-only (``openid``) request. An
    Authorised ``consent`` is a re-authentication: the page asks the customer to confirm the access again, with
    the accounts it already shares (``granted_account_ids``) and no new choice."""
    groups: list[PermissionGroup] = []
    multiple = False
    details: list[tuple[str, str]] = []
    kind = consent.kind if consent is not None else None
    if consent is not None and consent.kind == K.ACCOUNT_ACCESS:
        multiple = True
        groups = describe(
            consent.permissions,
            transaction_from=consent.transaction_from,
            transaction_to=consent.transaction_to,
            expires=consent.expires_at,
        )
    elif consent is not None and consent.kind == K.DOMESTIC_VRP:
        details = vrp.describe(data=consent.data)
    elif consent is not None and consent.kind in PAYMENT_KINDS:
        details = payment_details(consent)
    elif consent is not None and consent.kind == K.FUNDS_CONFIRMATION:
        debtor = consent.debtor_account or {}
        name, number = _text(debtor.get("Name")), _text(debtor.get("Identification"))
        details = [(label, value) for label, value in (
            ("Account", " ".join(p for p in (name, _masked(number) if number else None) if p)),
            ("Until", long_date(consent.expires_at) if consent.expires_at else "you withdraw it"),
        ) if value]
    reconfirm = consent is not None and consent.status == ConsentStatus.AUTHORISED
    labels = {a.account_id: account_label(a) for a in accounts}
    return {
        "reconfirm": reconfirm,
        "granted_on": long_date(consent.authorised_at) if reconfirm and consent and consent.authorised_at else None,
        "granted_accounts": [labels.get(a, a) for a in granted_account_ids] if reconfirm else [],
        "client_name": client_name,
        "kind": kind,
        "asks": KIND_TITLES.get(kind or "", "confirm who you are at this bank"),
        "groups": [{"title": g.title, "items": list(g.items)} for g in groups],
        "identity_words": list(identity_words),
        "details": details,
        "choose_accounts": consent is not None and not reconfirm,
        "multiple": multiple,
        "accounts": [
            {"account_id": a.account_id, "label": account_label(a), "checked": a.account_id in chosen}
            for a in accounts
        ],
        "consent_id": consent.consent_id if consent is not None else None,
        "psu_name": customer_name,
        "action": action,
        "hidden": dict(hidden),
        "message": message,
        # PSD2 art. 80: an authorised payment cannot be withdrawn, so the page does not promise it.
        "withdrawable": kind not in PAYMENT_KINDS,
    }


def render_consent_page(request: Request, view: dict[str, Any], *, headers: dict[str, str],
                        status_code: int = 200) -> Response:
    return render(request, "consent.html", view, headers=headers, status_code=status_code)
