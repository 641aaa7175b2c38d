"""Consents lodged through the consent service, as the TPP endpoints would, for tests of what comes after."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from consent import service

PERMISSIONS = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits",
               "ReadTransactionsDebits"]


def intent_claims(consent_id: str) -> str:
    return json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}})


def intent_details(consent_id: str) -> str:
    return json.dumps([{"type": "openbanking_intent", "consent_id": consent_id}])


async def lodge_account_access(db: Any, client_id: str, *, expires: datetime | None = None,
                               transaction_from: datetime | None = None, transaction_to: datetime | None = None,
                               permissions: list[str] | None = None) -> str:
    """An AwaitingAuthorisation account-access consent; by default valid for 30 days with a 90-day window."""
    now = datetime.now(UTC)
    async with db.session() as session:
        consent = await service.create_account_access_consent(
            session=session, client_id=client_id, risk={}, now=now,
            data={
                "Permissions": permissions or PERMISSIONS,
                "ExpirationDateTime": (expires or now + timedelta(days=30)).isoformat(),
                "TransactionFromDateTime": (transaction_from or now - timedelta(days=90)).replace(microsecond=0).isoformat(),
                "TransactionToDateTime": (transaction_to or now).replace(microsecond=0).isoformat(),
            },
        )
        return consent.consent_id
