"""tests/unit/consent/test_consent_audit.py, rerun on PostgreSQL (fixtures from this folder's conftest)."""

from tests.unit.consent.test_consent_audit import *  # noqa: F403
