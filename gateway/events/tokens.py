"""The Security Event Token of one outbox event (RFC 8417; OBIE Event Notification API v3.1.11
``OBEventNotification1``, docs/obie-notes-vrp-events.md section 3).

Claims: ``iss`` the gateway's issuer, ``iat`` when this token was signed, ``jti`` the event's own id (the same on
every attempt and every replay, RFC 8417 section 2.2, so the TPP de-duplicates), ``aud`` the TPP's client id,
``sub`` the URL of the resource that changed, ``txn`` the transaction that changed it (RFC 8417 section 2.2),
``toe`` the time of the event, and ``events`` with one member, the event's URN, whose ``subject`` names the
resource: ``subject_type`` ``http://openbanking.org.uk/rid_http://openbanking.org.uk/rty``, its id (``rid``),
type (``rty``) and links (``rlk``, one per available version). Signed PS256 with the gateway's current key
(``gateway.security.keys``: the family TPPs verify, published at ``/jwks``), ``typ`` ``secevent+jwt``
(RFC 8417 section 2.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Final

from consent.api import RESOURCES
from consent.notifications import CONSENT_RESOURCE_TYPES
from consent.notifications import EventNotification
from gateway.security import jose
from gateway.security.keys import KeyStore

SUBJECT_TYPE: Final = "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty"
RID: Final = "http://openbanking.org.uk/rid"
RTY: Final = "http://openbanking.org.uk/rty"
RLK: Final = "http://openbanking.org.uk/rlk"
VERSION: Final = "v3.1"
SET_TYPE: Final = "secevent+jwt"

# Resource types the gateway emits events for, and the collection (under its API's base path) holding them.
PAYMENT_COLLECTIONS: Final[Mapping[str, tuple[str, str]]] = {
    "domestic-payment": ("payments", "domestic-payments"),
    "domestic-scheduled-payment": ("payments", "domestic-scheduled-payments"),
    "domestic-standing-order": ("payments", "domestic-standing-orders"),
    "domestic-vrp": ("vrp", "domestic-vrps"),
}
COLLECTIONS: Final[Mapping[str, tuple[str, str]]] = {
    **{CONSENT_RESOURCE_TYPES[r.kind]: (r.api, r.collection) for r in RESOURCES},
    **PAYMENT_COLLECTIONS,
}


@dataclass(frozen=True, kw_only=True)
class SetSigner:
    """Everything a token needs besides the event, prepared once."""

    issuer: str
    base_paths: Mapping[str, str]  # API name -> the served document's base path
    keys: KeyStore

    def resource_url(self, event: EventNotification) -> str:
        api, collection = COLLECTIONS[event.resource_type]
        return f"{self.issuer}{self.base_paths[api]}/{collection}/{event.resource_id}"

    def claims(self, event: EventNotification, *, issued_at: int) -> dict[str, Any]:
        url = self.resource_url(event)
        subject = {"subject_type": SUBJECT_TYPE, RID: event.resource_id, RTY: event.resource_type,
                   RLK: [{"version": VERSION, "link": url}]}
        return {
            "iss": self.issuer,
            "iat": issued_at,
            "jti": event.jti,
            "aud": event.client_id,
            "sub": url,
            "txn": event.txn,
            "toe": int(event.occurred_at.timestamp()),
            "events": {event.event_type: {"subject": subject}},
        }

    def sign(self, event: EventNotification, *, issued_at: int) -> str:
        key = self.keys.current
        return jose.sign(self.claims(event, issued_at=issued_at), key=key, headers={"typ": SET_TYPE,
                                                                                   "kid": key["kid"]})
