"""The consent a pushed request names (``openbanking_intent_id``, checked at PAR; OBIE R/W API "Consent
Authorisation"): still awaiting authorisation when the customer decides (or Authorised, for the customer it is
bound to re-authenticating a long-lived consent: docs/obie-notes.md section 3.1), the customer's own accounts to
choose among, and the step that authorises it with the chosen accounts (``consent.service.authorise``),
re-authorises it (``consent.service.reauthorise``: same consent, its earlier tokens revoked) or rejects it,
run in the same transaction that uses up the pushed request and stores the code
(``gateway.oauth.authorization_requests``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from consent import service as consent_service
from consent.bank import AccountSummary
from consent.lifecycle import ConsentStatus
from consent.lifecycle import reauthenticable
from consent.models import Consent
from gateway.backend.bank import BankUnavailable
from gateway.errors import AccessDenied
from gateway.errors import InvalidRequest
from gateway.errors import TemporarilyUnavailable
from gateway.oauth.authorization_requests import ConsentStep
from gateway.oauth.authorization_requests import Pending
from gateway.oauth.tokens import revoke_consent_tokens
from gateway.services import Services
from gateway.store.db import utcnow


async def pending_consent(db: AsyncSession, pending: Pending, *, psu_id: str | None) -> Consent | None:
    """The consent the pushed request names, if the signed-in customer ``psu_id`` can still decide it; ``None``
    when it names none.

    PAR checked it, but the TPP may have deleted it, or another authorization decided it, since then. An
    Authorised consent (a re-authentication) is only ever handed to the customer it is bound to.
    """
    intent_id = pending.params.get("intent_id")
    if not intent_id:
        return None
    consent = await db.get(Consent, intent_id)
    if consent is None or consent.client_id != pending.client.client_id:
        raise InvalidRequest("the consent of this request no longer exists")
    if consent.status == ConsentStatus.AUTHORISED and reauthenticable(consent.kind):
        pass  # re-authentication of a long-lived consent (docs/obie-notes.md section 3.1)
    elif consent.status != ConsentStatus.AWAITING_AUTHORISATION:
        # docs/obie-notes.md section 3.1: a decided consent takes no new authorization.
        raise InvalidRequest("this consent has already been decided")
    if consent.expires_at is not None and consent.expires_at <= utcnow():
        raise InvalidRequest("this consent has expired")
    _check_same_customer(consent, psu_id=psu_id)
    return consent


async def customer_accounts(services: Services, psu_id: str) -> list[AccountSummary]:
    try:
        return await services.bank.accounts(psu_id=psu_id)
    except BankUnavailable:
        raise TemporarilyUnavailable("The bank cannot show your accounts right now. Please try again later.") from None


def authorise_step(pending: Pending, consent: Consent, *, psu_id: str, chosen: list[str],
                    accounts: Sequence[AccountSummary]) -> ConsentStep:
    async def step(db: AsyncSession) -> None:
        await consent_service.authorise(
            session=db, consent_id=consent.consent_id, client_id=pending.client.client_id, psu_id=psu_id,
            account_ids=chosen, available_account_ids=[a.account_id for a in accounts], now=utcnow(),
        )
    return step


def is_reauthentication(consent: Consent) -> bool:
    return consent.status == ConsentStatus.AUTHORISED


def _check_same_customer(consent: Consent, *, psu_id: str | None) -> None:
    """Only the customer an Authorised consent is bound to may re-authenticate it: anyone else is refused before
    the consent page shows them anything of it."""
    if is_reauthentication(consent) and (psu_id is None or consent.psu_id != psu_id):
        raise AccessDenied("this consent was given by another customer: sign in as that customer")


def reauthorise_step(pending: Pending, consent: Consent, *, psu_id: str) -> ConsentStep:
    async def step(db: AsyncSession) -> None:
        # The earlier tokens of the consent die with this re-authentication (the new code brings new ones);
        # revoked in the transaction the consent service commits.
        await revoke_consent_tokens(db, consent.consent_id)
        await consent_service.reauthorise(session=db, consent_id=consent.consent_id,
                                          client_id=pending.client.client_id, psu_id=psu_id, now=utcnow())
    return step


def reject_step(pending: Pending, consent: Consent, *, psu_id: str | None) -> ConsentStep:
    async def step(db: AsyncSession) -> None:
        # docs/obie-notes.md section 7: a declined authorisation leaves the consent Rejected.
        await consent_service.reject(session=db, consent_id=consent.consent_id, client_id=pending.client.client_id,
                                     psu_id=psu_id, now=utcnow(), reason="customer declined")
    return step
