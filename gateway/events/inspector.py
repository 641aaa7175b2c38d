"""The sandbox request inspector: a callback the gateway itself hosts for each TPP, in sandbox mode only
(docs/architecture.md section 7, "Sandbox inspector").

A TPP without a public endpoint registers ``{issuer}/sandbox/v1/inspector/{client_id}`` as its ``CallbackUrl``
(OBIE Event Notification API v3.1.11: the bank POSTs to ``{CallbackUrl}/event-notifications``) and reads what
arrived at ``GET /sandbox/v1/inspector/{client_id}`` (``gateway.hosting.sandbox_inspector``). The delivery
worker hands a push to its own TPP's inspector in-process, with the headers and signed token it would have
sent; it is the one callback the worker reaches without the SSRF check of ``gateway.events.callbacks``, and
only in sandbox mode (production builds no inspector: the URL is checked and refused as any other). A push to
another TPP's inspector is refused. Entries are kept in memory, the last ``OBGW_SANDBOX_INSPECTOR_ENTRIES`` per
TPP, for at most ``MAX_CLIENTS`` TPPs (the least recently written forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Final

PATH_PREFIX: Final = "/sandbox/v1/inspector"
MAX_CLIENTS: Final = 1000


@dataclass(frozen=True, kw_only=True)
class InspectedRequest:
    received_at: datetime
    source: str  # "worker" (the gateway's own push, in-process) or "http" (a POST that arrived)
    headers: dict[str, str]
    body: str

    def as_json(self) -> dict[str, Any]:
        return {"ReceivedAt": self.received_at.isoformat(), "Source": self.source, "Headers": self.headers,
                "Body": self.body}


class Inspector:
    def __init__(self, *, issuer: str, entries: int) -> None:
        self.base = issuer.rstrip("/") + PATH_PREFIX + "/"
        self.size = entries
        self._by_client: OrderedDict[str, deque[InspectedRequest]] = OrderedDict()

    def callback_url(self, *, client_id: str) -> str:
        return self.base + client_id

    def owner_of(self, callback_url: str) -> str | None:
        """The client id whose inspector ``callback_url`` names exactly, or None for any other URL."""
        url = callback_url.rstrip("/")
        if not url.startswith(self.base):
            return None
        client_id = url[len(self.base):]
        return client_id if client_id and "/" not in client_id and "?" not in client_id else None

    def record(self, *, client_id: str, at: datetime, source: str, headers: dict[str, str], body: str) -> None:
        kept = self._by_client.pop(client_id, None) or deque(maxlen=self.size)
        kept.append(InspectedRequest(received_at=at, source=source, headers=headers, body=body))
        self._by_client[client_id] = kept
        while len(self._by_client) > MAX_CLIENTS:
            self._by_client.popitem(last=False)

    def entries(self, *, client_id: str) -> list[InspectedRequest]:
        """Newest first."""
        return list(reversed(self._by_client.get(client_id, ())))
