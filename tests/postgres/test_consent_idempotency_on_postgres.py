"""tests/unit/consent/test_consent_idempotency.py, rerun on PostgreSQL (fixtures from this folder's conftest)."""

from tests.unit.consent.test_consent_idempotency import *  # noqa: F403
