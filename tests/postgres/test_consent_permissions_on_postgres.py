"""tests/unit/consent/test_consent_permissions.py, rerun on PostgreSQL (fixtures from this folder's conftest)."""

from tests.unit.consent.test_consent_permissions import *  # noqa: F403
