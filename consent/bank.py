"""The two seams through which the consent domain talks to the bank (docs/architecture.md section 2).

The sandbox bank implements them over HTTP (``gateway.backend.bank``); a production bank plugs in its identity
provider and account directory behind the same protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class Psu:
    psu_id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class AccountSummary:
    account_id: str
    name: str
    account_type: str
    currency: str
    masked_identification: str


class PsuAuthenticator(Protocol):
    async def authenticate(self, *, username: str, password: str) -> Psu | None:
        """The customer behind these credentials, or ``None`` when they do not match."""
        ...


class AccountDirectory(Protocol):
    async def accounts(self, *, psu_id: str) -> list[AccountSummary]:
        """Every account the customer may share."""
        ...
