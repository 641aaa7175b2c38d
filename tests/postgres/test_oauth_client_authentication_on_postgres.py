"""tests/integration/oauth/test_client_authentication.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_client_authentication import *  # noqa: F403
