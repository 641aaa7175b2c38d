"""The portal publishes the OBIE documents cut by the same rule the gateway applies (sandbox/obie_documents.py
restates gateway/contract/derive.py, since the sandbox imports nothing of the gateway): both give the same
document for every way routes.yaml can name operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.contract.derive import served_document
from gateway.contract.specs import API_FILES
from gateway.contract.specs import read_yaml
from gateway.settings import REPO_ROOT
from sandbox import obie_documents

OPENAPI_DIR = REPO_ROOT / "openapi"
ROUTES = REPO_ROOT / "policies" / "routes.yaml"

DECLARED_SETS = [
    pytest.param(obie_documents.declared(ROUTES), id="routes.yaml"),
    pytest.param(frozenset(), id="nothing"),
    pytest.param(
        frozenset({"GetAccounts", "GET /open-banking/v3.1/aisp/balances", "CreateDomesticPayments",
                   "GET /open-banking/v3.1/pisp/domestic-payment-consents/{ConsentId}/funds-confirmation",
                   "GET /open-banking/v3.1/cbpii/funds-confirmation-consents/{ConsentId}"}),
        id="by operationId and by method and path",
    ),
]


@pytest.fixture(scope="module")
def official() -> dict[str, dict[str, Any]]:
    return {api: read_yaml(OPENAPI_DIR / file) for api, file in API_FILES.items()}


@pytest.mark.parametrize("declared", DECLARED_SETS)
def test_the_portal_and_the_gateway_cut_each_official_document_alike(
    official: dict[str, dict[str, Any]], declared: frozenset[str]
) -> None:
    for api, document in official.items():
        assert obie_documents.served(document, declared) == served_document(official=document, declared=declared), api


def test_routes_yaml_names_are_read_as_the_gateway_reads_them(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump({"version": 1, "routes": [
        {"operation": "GetAccounts"}, {"method": "get", "path": "/open-banking/v3.1/aisp/balances"},
    ]}))
    assert obie_documents.declared(routes) == {"GetAccounts", "GET /open-banking/v3.1/aisp/balances"}


def test_the_published_yaml_names_its_source_and_parses_to_the_cut_document(tmp_path: Path) -> None:
    official_file = OPENAPI_DIR / API_FILES["funds"]
    published = obie_documents.served_yaml(official_file=official_file, routes_file=ROUTES)
    assert published.startswith(b"# The official OBIE file confirmation-funds-openapi.yaml ")
    (tmp_path / "published.yaml").write_bytes(published)
    expected = served_document(official=read_yaml(official_file), declared=obie_documents.declared(ROUTES))
    assert read_yaml(tmp_path / "published.yaml") == expected
    assert len(expected["paths"]) == 3
