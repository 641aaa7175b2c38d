"""Customer password hashing: argon2id (RFC 9106; docs/architecture.md section 6).

Parameters are the OWASP Password Storage Cheat Sheet minimum for argon2id (m=19 MiB, t=2, p=1): verifying
takes milliseconds, so signing in stays quick, while the stored hashes are the real thing. Verification runs
off the event loop because argon2 is deliberately CPU-bound.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2 import Type
from argon2.exceptions import Argon2Error
from argon2.exceptions import InvalidHashError
from starlette.concurrency import run_in_threadpool

TIME_COST = 2
MEMORY_COST = 19456
PARALLELISM = 1

# The hash of a random password nobody knows, with the same parameters as real ones: an unknown username is
# checked against it so that it costs the same time as a wrong password (no user enumeration by timing).
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$6YZIsWMeS4YK+2mNXpXppQ$y95aLZA1fDvVQSlm59Ob7Xok33fcKvNdWN9SNMvL2hM"


def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST, parallelism=PARALLELISM, type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(*, password_hash: str, password: str) -> bool:
    """True only when ``password`` matches; any malformed hash or error counts as a mismatch (fail closed)."""
    try:
        return bool(_hasher().verify(password_hash, password))
    except (Argon2Error, InvalidHashError, ValueError, TypeError):
        return False


async def verify_password_async(*, password_hash: str | None, password: str) -> bool:
    """Verify off the event loop; with no hash (unknown user) spend the same work on ``DUMMY_HASH``."""
    if password_hash is None:
        await run_in_threadpool(verify_password, password_hash=DUMMY_HASH, password=password)
        return False
    return await run_in_threadpool(verify_password, password_hash=password_hash, password=password)
