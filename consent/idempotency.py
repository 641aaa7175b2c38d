"""Idempotency keys, as the R/W API v3.1.11 profile defines them (docs/obie-notes.md section 5).

"Request Headers": ``x-idempotency-key`` is Max40Text with pattern ``^(?!\\s)(.*)(\\S)$``.
"Idempotency": a replay is the same key from the same TPP within the preceding 24 hours; after that the key
may be used again for a new request.

One definition for every table keyed this way (payment-order consents and payment orders): the well-formed test,
the "live key" filter and the retirement of an expired key so the unique (client, key) constraint holds for its
reuse. The window is the rulebook's ``lifetimes.idempotency_key`` (policies/fapi.yaml; 24 hours as shipped): the
gateway reads the rulebook and passes it in, as ``window``, to every function that needs it.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Final

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

KEY_MAX: Final = 40


def well_formed(key: str) -> bool:
    """Max40Text without surrounding white space (and, being a header value, printable)."""
    return 0 < len(key) <= KEY_MAX and key == key.strip() and key.isprintable()


def live(model: Any, *, client_id: str, key: str, now: datetime, window: timedelta) -> ColumnElement[bool]:
    """The filter for ``model``'s row the client created under ``key`` within the ``window`` before ``now``."""
    return and_(
        col(model.client_id) == client_id,
        col(model.idempotency_key) == key,
        col(model.created_at) > now - window,
    )


async def retire_expired(
    session: AsyncSession, model: Any, *, client_id: str, key: str, now: datetime, window: timedelta
) -> None:
    """Release ``key`` from a row older than ``window``, so a new row may take it under the unique key."""
    await session.exec(
        update(model)
        .where(
            col(model.client_id) == client_id,
            col(model.idempotency_key) == key,
            col(model.created_at) <= now - window,
        )
        .values(idempotency_key=None)
        .execution_options(synchronize_session=False)
    )
