"""tests/integration/oauth/test_authorize.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_authorize import *  # noqa: F403
