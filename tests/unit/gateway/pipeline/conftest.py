from __future__ import annotations

import pytest

from gateway.app import _contract
from gateway.contract.policies.loader import Policies
from gateway.contract.specs import OpenApiSpecs
from gateway.settings import Settings


@pytest.fixture(scope="session")
def contract() -> tuple[OpenApiSpecs, Policies]:
    defaults = Settings()
    return _contract(defaults.openapi_dir.resolve(), defaults.policies_dir.resolve())
