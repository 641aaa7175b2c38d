"""The OBIE documents are derived and loaded once, and a request's (method, path) finds its operation under the documents'
``servers`` base paths (R/W API profile, "Resource URI Path Structure"); anything else is 404 or 405."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import InvalidRequestBody

from gateway import errors
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import API_FILES
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import SpecError
from gateway.contract.specs import load_specs

from .conftest import OPENAPI_DIR
from .conftest import POLICIES_DIR

DECLARED = declared_operations(POLICIES_DIR)


async def test_a_literal_path_finds_its_operation(specs: OpenApiSpecs) -> None:
    match = specs.find("GET", "/open-banking/v3.1/aisp/accounts")
    assert match is not None
    assert match.operation.operation_id == "GetAccounts"
    assert dict(match.path_params) == {}


async def test_a_templated_path_finds_its_operation_and_parameters(specs: OpenApiSpecs) -> None:
    match = specs.find("get", "/open-banking/v3.1/aisp/accounts/acc-1/statements/st-9/transactions")
    assert match is not None
    assert match.operation.operation_id == "GetAccountsAccountIdStatementsStatementIdTransactions"
    assert dict(match.path_params) == {"AccountId": "acc-1", "StatementId": "st-9"}


async def test_each_api_lives_under_its_own_base_path(specs: OpenApiSpecs) -> None:
    consent = specs.find("POST", "/open-banking/v3.1/cbpii/funds-confirmation-consents")
    funds = specs.find("GET", "/open-banking/v3.1/pisp/domestic-payment-consents/c-1/funds-confirmation")
    assert consent is not None and consent.operation.api == "funds"
    assert funds is not None and funds.operation.api == "payments"
    assert specs.find("POST", "/open-banking/v3.1/aisp/funds-confirmation-consents") is None


async def test_a_path_parameter_never_spans_segments(specs: OpenApiSpecs) -> None:
    assert specs.find("GET", "/open-banking/v3.1/aisp/accounts/a/b") is None
    assert specs.find("GET", "/open-banking/v3.1/aisp/accounts//balances") is None


async def test_a_trailing_slash_is_not_the_same_resource(specs: OpenApiSpecs) -> None:
    assert specs.find("GET", "/open-banking/v3.1/aisp/accounts/") is None


async def test_an_endpoint_we_do_not_serve_is_404(specs: OpenApiSpecs) -> None:
    # R/W API profile, "400 v/s 404": an unimplemented endpoint is 404 (international payments are not served).
    with pytest.raises(errors.NotFound) as refused:
        specs.resolve("POST", "/open-banking/v3.1/pisp/international-payment-consents")
    assert refused.value.status_code == 404


async def test_a_method_the_resource_does_not_define_is_405(specs: OpenApiSpecs) -> None:
    # No DELETE exists on any payment consent (docs/obie-notes.md section 2.2).
    assert specs.allowed_methods("/open-banking/v3.1/pisp/domestic-payment-consents/c-1") == {"GET"}
    with pytest.raises(errors.MethodNotAllowed) as refused:
        specs.resolve("DELETE", "/open-banking/v3.1/pisp/domestic-payment-consents/c-1")
    assert refused.value.status_code == 405


async def test_operation_ids_are_unique_across_the_documents(specs: OpenApiSpecs) -> None:
    ops = list(specs.operations())
    assert len({op.operation_id for op in ops}) == len(ops) == 61  # 49 R/W API operations, the seven VRP ones and the five Events API ones
    assert specs.by_operation_id("CreateDomesticPayments") is not None
    assert specs.by_operation_id("CreateInternationalPayments") is None


async def test_each_api_has_an_openapi_core_object_that_validates_requests(specs: OpenApiSpecs) -> None:
    def request(body: dict[str, object]) -> MockRequest:
        return MockRequest(
            "http://127.0.0.1:8000",
            "post",
            "/open-banking/v3.1/cbpii/funds-confirmation-consents",
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
            data=json.dumps(body),
            content_type="application/json",
        )

    account = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "11280001234567"}
    specs["funds"].validate_request(request({"Data": {"DebtorAccount": account}}))
    with pytest.raises(InvalidRequestBody, match="DebtorAccount"):
        specs["funds"].validate_request(request({"Data": {}}))
    assert set(specs.apis) == {"accounts", "payments", "funds", "vrp", "events"}


def _official_copy(tmp_path: Path) -> Path:
    """An openapi/ folder holding copies of the official files, to break one of them."""
    for name in API_FILES.values():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((OPENAPI_DIR / name).read_bytes())
    return tmp_path


async def test_a_missing_document_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="account-info-openapi.yaml: cannot read"):
        load_specs(tmp_path, declared=DECLARED)


async def test_an_invalid_openapi_document_is_refused(tmp_path: Path) -> None:
    funds = _official_copy(tmp_path) / API_FILES["funds"]
    funds.write_text('openapi: "3.0.0"\ninfo: {title: x}\npaths: {}\nservers: [{url: /open-banking/v3.1/cbpii}]\n')
    with pytest.raises(SpecError, match="confirmation-funds-openapi.yaml: not a valid OpenAPI document"):
        load_specs(tmp_path, declared=DECLARED)


async def test_a_declared_operation_no_official_document_has_is_refused() -> None:
    # Fail closed: routes.yaml promising an operation the documents cannot describe stops the start-up.
    with pytest.raises(SpecError, match="no official OBIE document has: GET /open-banking/v3.1/aisp/x, GetAccountz"):
        load_specs(OPENAPI_DIR, declared=DECLARED | {"GetAccountz", "GET /open-banking/v3.1/aisp/x"})


async def test_an_operation_can_be_declared_by_method_and_full_path() -> None:
    specs = load_specs(OPENAPI_DIR, declared={"GetAccounts", "GET /open-banking/v3.1/aisp/accounts/{AccountId}"})
    assert sorted(op.operation_id for op in specs.operations()) == ["GetAccounts", "GetAccountsAccountId"]
    assert specs.find("GET", "/open-banking/v3.1/aisp/accounts/a-1") is not None
    assert specs.find("GET", "/open-banking/v3.1/aisp/balances") is None
    assert set(specs.apis) == {"accounts", "payments", "funds", "vrp", "events"}
