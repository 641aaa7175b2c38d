"""The OBIE documents load once, and a request's (method, path) finds its operation under the documents'
``servers`` base paths (R/W API profile, "Resource URI Path Structure"); anything else is 404 or 405."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import InvalidRequestBody
from starlette.applications import Starlette

from gateway import errors
from gateway.openapi_specs import OpenApiSpecs
from gateway.openapi_specs import SpecError
from gateway.openapi_specs import load_specs
from gateway.openapi_specs import specs_for

from .conftest import OPENAPI_DIR


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
    assert len({op.operation_id for op in ops}) == len(ops) == 49
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
    assert set(specs.apis) == {"accounts", "payments", "funds"}


async def test_specs_are_loaded_once_per_app(specs: OpenApiSpecs) -> None:
    first, second = Starlette(), Starlette()
    first.state.openapi_specs = specs  # as create_app would after its one load
    assert specs_for(first, OPENAPI_DIR) is specs
    assert specs_for(first, OPENAPI_DIR) is specs_for(first, OPENAPI_DIR)
    loaded = specs_for(second, OPENAPI_DIR)
    assert loaded is not specs
    assert specs_for(second, OPENAPI_DIR) is loaded


async def test_a_missing_document_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="account-info-openapi.yaml: cannot read"):
        load_specs(tmp_path)


async def test_an_invalid_openapi_document_is_refused(tmp_path: Path) -> None:
    for name in (
        "account-info-openapi.yaml",
        "payment-initiation-openapi.yaml",
        "confirmation-funds-openapi.yaml",
    ):
        (tmp_path / name).write_text((OPENAPI_DIR / name).read_text())
    (tmp_path / "confirmation-funds-openapi.yaml").write_text(
        'openapi: "3.0.0"\ninfo: {title: x}\npaths: {}\nservers: [{url: /open-banking/v3.1/cbpii}]\n'
    )
    with pytest.raises(SpecError, match="confirmation-funds-openapi.yaml: not a valid OpenAPI document"):
        load_specs(tmp_path)
