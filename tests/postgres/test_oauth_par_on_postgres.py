"""tests/integration/oauth/test_par.py, rerun with the gateway on PostgreSQL."""

from tests.integration.oauth.test_par import *  # noqa: F403
