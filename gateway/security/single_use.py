"""Single-use markers with a lifetime: DPoP proof ``jti`` (RFC 9449 section 11.1), client assertion ``jti``
(RFC 7523 section 3), and anything else that must be accepted once only.

In memory by default (one process); Redis ``SET NX EX`` when ``OBGW_REDIS_URL`` is set so every replica
shares the same memory.
"""

from __future__ import annotations

import time
from typing import Protocol


class SingleUseStore(Protocol):
    async def claim(self, key: str, *, ttl: int) -> bool:
        """Record ``key`` for ``ttl`` seconds; ``False`` if it was already recorded (a replay)."""
        ...

    async def close(self) -> None: ...


class MemorySingleUseStore:
    def __init__(self, *, max_entries: int = 1_000_000) -> None:
        self._seen: dict[str, float] = {}
        self._max_entries = max_entries
        self._next_sweep = 0.0

    async def claim(self, key: str, *, ttl: int) -> bool:
        now = time.monotonic()
        if now >= self._next_sweep or len(self._seen) >= self._max_entries:
            self._sweep(now)
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        if len(self._seen) >= self._max_entries:
            # Fail closed: refusing is safer than forgetting a marker that might be replayed.
            return False
        self._seen[key] = now + ttl
        return True

    def _sweep(self, now: float) -> None:
        self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        self._next_sweep = now + 5.0

    async def close(self) -> None:
        self._seen.clear()


class RedisSingleUseStore:
    def __init__(self, url: str, *, prefix: str = "obgw:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = prefix

    async def claim(self, key: str, *, ttl: int) -> bool:
        return bool(await self._redis.set(f"{self._prefix}once:{key}", b"1", nx=True, ex=max(1, ttl)))

    async def close(self) -> None:
        await self._redis.aclose()


def create_single_use_store(redis_url: str, *, prefix: str = "obgw:") -> SingleUseStore:
    if redis_url:
        return RedisSingleUseStore(redis_url, prefix=prefix)
    return MemorySingleUseStore()
