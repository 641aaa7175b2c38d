"""The payment tests reuse the consent endpoints' gateway and TPP fixtures (signed requests, checked answers)."""

from __future__ import annotations

from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.integration.consent.conftest import gateway_app  # noqa: F401
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import other_tpp  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
