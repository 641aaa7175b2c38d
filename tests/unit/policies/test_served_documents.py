"""The OBIE documents the gateway serves are the official files of openapi/obie/ keeping exactly the operations
policies/routes.yaml declares (docs/architecture.md section 2, ``openapi/``; gateway/contract/derive.py)."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import errors
from gateway.contract.derive import HTTP_METHODS
from gateway.contract.derive import served_document
from gateway.contract.policies.checking import PolicyError
from gateway.contract.policies.loader import Policies
from gateway.contract.policies.loader import load_policies
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import API_FILES
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.contract.specs import read_yaml

from .conftest import OPENAPI_DIR
from .conftest import POLICIES_DIR


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


@pytest.fixture(scope="module")
def official() -> dict[str, dict[str, Any]]:
    """Each official file, parsed afresh (not the objects the specs were derived from)."""
    return {api: read_yaml(OPENAPI_DIR / file) for api, file in API_FILES.items()}


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_the_served_document_has_exactly_the_operations_routes_yaml_declares(
    specs: OpenApiSpecs, official: dict[str, dict[str, Any]], api: str
) -> None:
    declared = declared_operations(POLICIES_DIR)
    served = {op["operationId"] for _, _, op in _operations(dict(specs.apis[api].document))}
    in_official = {op["operationId"] for _, _, op in _operations(official[api])}
    assert served
    assert served == declared & in_official


async def test_every_declared_operation_is_served_and_has_its_policy(specs: OpenApiSpecs, policies: Policies) -> None:
    served = {op.operation_id for op in specs.operations()}
    # The shipped routes.yaml names every operation by operationId.
    assert served == declared_operations(POLICIES_DIR) == set(policies.by_operation_id)
    assert len(served) == 61  # 49 R/W API operations, the seven VRP ones and the five Events API ones


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_every_served_operation_and_everything_else_is_the_official_data(
    specs: OpenApiSpecs, official: dict[str, dict[str, Any]], api: str
) -> None:
    served = dict(specs.apis[api].document)
    for path, method, operation in _operations(served):
        assert operation == official[api]["paths"][path][method], f"{method.upper()} {path}"
    for path, item in served["paths"].items():
        # Path-level fields (shared parameters, summary) are kept as published.
        assert {k: v for k, v in item.items() if k not in HTTP_METHODS} == {
            k: v for k, v in official[api]["paths"][path].items() if k not in HTTP_METHODS
        }, path
    assert list(served) == list(official[api])
    assert {k: v for k, v in served.items() if k != "paths"} == {
        k: v for k, v in official[api].items() if k != "paths"
    }


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_a_path_is_served_when_one_of_its_operations_is_declared(
    specs: OpenApiSpecs, official: dict[str, dict[str, Any]], api: str
) -> None:
    declared = declared_operations(POLICIES_DIR)
    expected = [
        path
        for path, item in official[api]["paths"].items()
        if any(method in HTTP_METHODS and op["operationId"] in declared for method, op in item.items())
    ]
    assert list(specs.apis[api].document["paths"]) == expected  # in the official order


async def test_undeclared_payment_operations_are_not_served(specs: OpenApiSpecs) -> None:
    # docs/obie-notes.md section 2.2: domestic payments only; file and international payments are answered 404.
    paths = specs.apis["payments"].document["paths"]
    assert all(path.startswith("/domestic-") for path in paths)
    assert "/international-payment-consents" not in paths
    assert specs.by_operation_id("CreateFilePaymentConsents") is None


async def test_the_hand_trimmed_copies_are_gone() -> None:
    for name in ("account-info-openapi.yaml", "payment-initiation-openapi.yaml", "confirmation-funds-openapi.yaml"):
        assert not (OPENAPI_DIR / name).exists(), name


def _document() -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "/base/"}],
        "paths": {
            "/a": {"parameters": [{"name": "p"}], "get": {"operationId": "GetA"}, "delete": {"operationId": "DelA"}},
            "/b": {"get": {"operationId": "GetB"}},
            "/c/{Id}": {"summary": "c", "put": {"operationId": "PutC"}},
        },
        "components": {"schemas": {"Unused": {"type": "string"}}},
    }


def test_served_document_keeps_declared_operations_and_drops_emptied_paths() -> None:
    original = _document()
    served = served_document(official=original, declared={"DelA", "PUT /base/c/{Id}", "GetZ"})
    assert served["paths"] == {
        "/a": {"parameters": [{"name": "p"}], "delete": {"operationId": "DelA"}},
        "/c/{Id}": {"summary": "c", "put": {"operationId": "PutC"}},
    }
    assert {k: v for k, v in served.items() if k != "paths"} == {k: v for k, v in _document().items() if k != "paths"}
    assert original == _document()  # the parsed official document is not changed


def test_served_document_with_nothing_declared_has_no_paths() -> None:
    official = _document()
    assert served_document(official=copy.deepcopy(official), declared=frozenset())["paths"] == {}
    # A path of another server is not the same operation.
    assert served_document(official=official, declared={"GET /a", "GET /other/b"})["paths"] == {}


def _routes_copy(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    """A copy of the shipped policies whose routes.yaml list went through ``change``."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target)
    doc = yaml.safe_load((target / "routes.yaml").read_text())
    change(doc["routes"])
    (target / "routes.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def _without(operation: str) -> Callable[[list[dict[str, Any]]], None]:
    return lambda routes: routes.remove(next(r for r in routes if r.get("operation") == operation))


async def test_an_operation_taken_out_of_routes_yaml_is_no_longer_served(tmp_path: Path) -> None:
    policies_dir = _routes_copy(tmp_path, _without("GetBalances"))
    specs = load_specs(OPENAPI_DIR, declared=declared_operations(policies_dir))
    assert specs.by_operation_id("GetBalances") is None
    assert "/balances" not in specs.apis["accounts"].document["paths"]
    with pytest.raises(errors.NotFound):
        specs.resolve("GET", "/open-banking/v3.1/aisp/balances")
    assert len(list(specs.operations())) == 60
    assert len(load_policies(policies_dir, specs=specs).routes) == 60


def _by_method_and_path(routes: list[dict[str, Any]]) -> None:
    entry = next(r for r in routes if r.get("operation") == "GetBalances")
    del entry["operation"]
    entry.update(method="get", path="/open-banking/v3.1/aisp/balances")


async def test_a_route_named_by_method_and_path_is_served(tmp_path: Path) -> None:
    policies_dir = _routes_copy(tmp_path, _by_method_and_path)
    assert "GET /open-banking/v3.1/aisp/balances" in declared_operations(policies_dir)
    specs = load_specs(OPENAPI_DIR, declared=declared_operations(policies_dir))
    assert specs.by_operation_id("GetBalances") is not None
    assert load_policies(policies_dir, specs=specs).by_operation_id["GetBalances"].path.endswith("/balances")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda routes: routes[0].update(method="POST"), "name the operation by operation or by method + path, not both"),
        (lambda routes: routes[0].pop("operation"), "missing key(s): operation, or method and path"),
        (lambda routes: routes[0].update(operation=""), "operation must be a non-empty string"),
        (lambda routes: routes.append("GetAccounts"), "expected a mapping, got str"),
    ],
)
async def test_routes_yaml_that_names_no_operation_is_refused_before_the_documents_are_derived(
    tmp_path: Path, change: Callable[[list[dict[str, Any]]], None], message: str
) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)) as refused:
        declared_operations(_routes_copy(tmp_path, change))
    assert refused.value.file == "routes.yaml"
