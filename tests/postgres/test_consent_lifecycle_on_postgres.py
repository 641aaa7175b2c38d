"""tests/unit/consent/test_consent_lifecycle.py, rerun on PostgreSQL (fixtures from this folder's conftest)."""

from tests.unit.consent.test_consent_lifecycle import *  # noqa: F403
