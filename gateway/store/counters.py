"""Where rate-limit and throttle counters live (the ``limits`` library's storage): Redis when ``OBGW_REDIS_URL``
is set, so every replica counts the same budget (docs/architecture.md section 4), else this process's memory.

Shared by the resource pipeline's rate limits, the payment-submit budget and the bank sign-in throttle.
"""

from __future__ import annotations

from limits.aio.storage import Storage
from limits.storage import storage_from_string


def storage_for(redis_url: str, *, prefix: str = "obgw:") -> Storage:
    """Counters in Redis when configured (shared by replicas), else in this process's memory. Redis is
    reached through redis-py, the client the rest of obgw uses."""
    if redis_url:
        scheme, sep, rest = redis_url.partition("://")
        if not sep or scheme not in ("redis", "rediss"):
            raise ValueError("OBGW_REDIS_URL must be a redis:// or rediss:// URL")
        storage = storage_from_string(f"async+{scheme}://{rest}", implementation="redispy",
                                      key_prefix=f"{prefix}limits")
    else:
        storage = storage_from_string("async+memory://")
    assert isinstance(storage, Storage)
    return storage
