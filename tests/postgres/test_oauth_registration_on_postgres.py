"""tests/integration/oauth/test_registration.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_registration import *  # noqa: F403
