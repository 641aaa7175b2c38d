"""tests/integration/oauth/test_introspection.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_introspection import *  # noqa: F403
