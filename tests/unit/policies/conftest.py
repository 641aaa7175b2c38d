"""The served OpenAPI documents and the shipped policies, loaded once for the whole session (loading derives
and validates about 1 MB of OpenAPI and takes about a second)."""

from __future__ import annotations

import pytest

from gateway.contract.policies.loader import Policies
from gateway.contract.policies.loader import load_policies
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.settings import REPO_ROOT

POLICIES_DIR = REPO_ROOT / "policies"
OPENAPI_DIR = REPO_ROOT / "openapi"


@pytest.fixture(scope="session")
def specs() -> OpenApiSpecs:
    return load_specs(OPENAPI_DIR, declared=declared_operations(POLICIES_DIR))


@pytest.fixture(scope="session")
def policies(specs: OpenApiSpecs) -> Policies:
    return load_policies(POLICIES_DIR, specs=specs)
