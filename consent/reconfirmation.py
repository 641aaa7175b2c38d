"""When an account-information consent may need the customer again (docs/obie-notes.md section 10, the UK
90-day rule since 2022): the bank no longer re-authenticates every 90 days; the AISP reconfirms the access with
the customer every 90 days and need not tell the bank. So the bank neither expires the consent nor asks, but its
dashboard can say that the app may ask: an active AIS consent last authorised or re-authorised more than 90
days ago. Only shown, never enforced; the TPP hears of it once per period as an event
(``consent.reconfirmation_notices``).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Final

from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus

RECONFIRM_AFTER: Final = timedelta(days=90)


def last_confirmed(*, authorised_at: datetime | None, reauthorised_at: datetime | None) -> datetime | None:
    """The customer's latest approval of the consent: the re-authorisation if there was one."""
    moments = [m for m in (authorised_at, reauthorised_at) if m is not None]
    return max(moments) if moments else None


def reconfirmation_due(*, kind: str, status: str, authorised_at: datetime | None,
                       reauthorised_at: datetime | None, now: datetime) -> datetime | None:
    """For an active AIS consent the customer last confirmed more than 90 days before ``now``: that date (the
    app may ask them to confirm again). ``None`` otherwise (other kinds, ended consents, confirmed recently)."""
    if kind != ConsentKind.ACCOUNT_ACCESS or status != ConsentStatus.AUTHORISED:
        return None
    confirmed = last_confirmed(authorised_at=authorised_at, reauthorised_at=reauthorised_at)
    if confirmed is None or now - confirmed <= RECONFIRM_AFTER:
        return None
    return confirmed
