"""tests/unit/consent/test_consent_service.py, rerun on PostgreSQL (fixtures from this folder's conftest)."""

from tests.unit.consent.test_consent_service import *  # noqa: F403
