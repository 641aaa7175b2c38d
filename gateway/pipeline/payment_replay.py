"""The replay lookup of the idempotent payment POSTs (R/W API v3.1.11 "Idempotency", docs/obie-notes.md section 5;
VRP API v3.1.11 ``POST /domestic-vrps``).

A retry with a known ``x-idempotency-key`` answers the original outcome, so it spends no submit budget and is
never refused by it, whether the first call is done or still in flight. The step runs right after the token (the
key is the client's) and before the rate limit; it fills ``PaymentCall.known`` and ``Call.counted``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Final

from gateway import errors
from gateway.pipeline.payment_checks import check_idempotency_key
from gateway.pipeline.payment_limits import PaymentLimits
from gateway.pipeline.payments_store import PaymentOrderStore
from gateway.pipeline.steps import IDEMPOTENCY_HEADER
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Step

# How long a retry waits for a concurrent first call with the same key to claim it (that call is past its token
# and signature checks, so a few milliseconds; generous for a loaded replica).
IN_FLIGHT_WAIT: Final = 2.0


@dataclass(kw_only=True, slots=True)
class PaymentCall(Call):
    """A payment POST or read: the record a replayed key names, if any."""

    known: Any = None


def replay_lookup(
    *, store: PaymentOrderStore, limits: PaymentLimits, clock: Callable[[], datetime]
) -> Step[PaymentCall]:
    async def step(call: PaymentCall) -> None:
        client_id = call.customer.client.client_id
        try:
            presented = (check_idempotency_key(call.request.headers.get(IDEMPOTENCY_HEADER))
                         if call.policy.idempotent else None)
        except errors.ObError:
            presented = None  # refused by the idempotency_key step, in the order the error codes are checked
        if presented is None:
            return
        call.known = await store.find(client_id=client_id, key=presented, now=clock())
        if call.known is None:
            if await limits.first_submission(client_id=client_id, key=presented):
                async def forget() -> None:
                    if await store.find(client_id=client_id, key=presented, now=clock()) is None:
                        # Refused before it claimed the key (429, bad signature, bad body): nothing was submitted
                        # under it, so the TPP's corrected retry is a first submission and is counted as one.
                        await limits.forget_submission(client_id=client_id, key=presented)

                call.on_refusal.append(forget)
            else:
                # A concurrent call with this key is ahead of us: it becomes visible once it claims the key.
                call.known = await store.appears(client_id=client_id, key=presented, now=clock,
                                                 within=IN_FLIGHT_WAIT)
        call.counted = call.known is None

    return step
