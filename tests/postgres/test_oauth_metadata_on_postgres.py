"""tests/integration/oauth/test_metadata.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_metadata import *  # noqa: F403
