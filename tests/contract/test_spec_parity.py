"""The OBIE documents the gateway serves are wire-identical to the official v3.1.11 ones for every operation.

The served documents are derived at start-up from the official files (gateway/contract/derive.py); this checks
the result as a partner's tool would see it, per operation after resolving every local ``$ref``: the path,
the method, the parameters (path, query and headers), the request body, every response status code with its
headers and schemas, and the security requirement. Any difference is named by its location. The official
files are the unmodified copies vendored in the repository, ``openapi/obie/`` (its README gives repository,
tag, commit and checksum); nothing outside the repository is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import API_FILES
from gateway.contract.specs import HTTP_METHODS
from gateway.contract.specs import load_specs
from gateway.contract.specs import read_yaml
from gateway.settings import REPO_ROOT

OPENAPI_DIR = REPO_ROOT / "openapi"
POLICIES_DIR = REPO_ROOT / "policies"
# The official files, vendored unmodified in the repository (openapi/obie/README.md).
OFFICIAL = {api: OPENAPI_DIR / file for api, file in API_FILES.items()}

def resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (a repeated ref on the same branch is kept
    as the ref string, so recursive schemas terminate)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                return {"$ref": ref}
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(target, document, (*seen, ref))
        return {key: resolve(value, document, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, document, seen) for value in node]
    return node


def differences(ours: Any, official: Any, where: str) -> Iterator[str]:
    if isinstance(ours, dict) and isinstance(official, dict):
        for key in sorted(set(ours) | set(official), key=str):
            if key not in ours:
                yield f"{where}.{key}: missing from ours"
            elif key not in official:
                yield f"{where}.{key}: not in the official document"
            else:
                yield from differences(ours[key], official[key], f"{where}.{key}")
    elif isinstance(ours, list) and isinstance(official, list) and len(ours) == len(official):
        for index, (a, b) in enumerate(zip(ours, official, strict=True)):
            yield from differences(a, b, f"{where}[{index}]")
    elif ours != official:
        yield f"{where}: ours {str(ours)[:120]!r} != official {str(official)[:120]!r}"


def parameters_by_name(operation: dict[str, Any]) -> dict[str, Any]:
    return {f"{p['in']}:{p['name']}": p for p in operation.get("parameters", [])}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


@pytest.fixture(scope="module")
def documents() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    served = load_specs(OPENAPI_DIR, declared=declared_operations(POLICIES_DIR))
    return {api: (dict(served.apis[api].document), read_yaml(OFFICIAL[api])) for api in API_FILES}


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_every_operation_we_serve_is_wire_identical_to_the_official_one(
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]], api: str
) -> None:
    ours, official = documents[api]
    found: list[str] = []
    served = list(operations(ours))
    assert served, f"{api}: no operations"
    for method, path, operation in served:
        name = f"{method.upper()} {path}"
        if path not in official["paths"] or method not in official["paths"][path]:
            found.append(f"{name}: not an official v3.1.11 operation")
            continue
        mine = resolve(operation, ours)
        theirs = resolve(official["paths"][path][method], official)
        # Parameters compared by (in, name) so that each difference names the header or parameter.
        found += differences(parameters_by_name(mine), parameters_by_name(theirs), f"{name} parameters")
        for key in sorted((set(mine) | set(theirs)) - {"parameters"}):
            found += differences(mine.get(key), theirs.get(key), f"{name} {key}")
        found += differences(
            resolve({k: v for k, v in ours["paths"][path].items() if k not in HTTP_METHODS}, ours),
            resolve({k: v for k, v in official["paths"][path].items() if k not in HTTP_METHODS}, official),
            f"{path} path item",
        )
    assert not found, "\n".join(found)


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_our_servers_and_info_are_the_official_ones(
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]], api: str
) -> None:
    ours, official = documents[api]
    assert ours["servers"] == official["servers"]
    assert ours["info"] == official["info"]
    assert ours["openapi"] == official["openapi"]


@pytest.mark.parametrize("api", sorted(API_FILES))
async def test_an_official_operation_is_served_exactly_when_routes_yaml_declares_it(
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]], api: str
) -> None:
    ours, official = documents[api]
    declared = declared_operations(POLICIES_DIR)
    served = {(method, path) for method, path, _ in operations(ours)}
    for method, path, operation in operations(official):
        assert ((method, path) in served) == (operation["operationId"] in declared), f"{method.upper()} {path}"


async def test_the_served_payment_paths_are_the_domestic_ones(
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    # docs/obie-notes.md section 2.2: domestic payments, scheduled payments and standing orders, their consents and status.
    ours, _ = documents["payments"]
    assert all(path.startswith("/domestic-") for path in ours["paths"])
    assert len(list(operations(ours))) == 16


async def test_the_comparison_names_a_changed_header(
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    # The comparison itself must see a one-character change deep inside a resolved header parameter.
    _, official = documents["funds"]
    original = resolve(official["paths"]["/funds-confirmations"]["post"], official)
    changed = resolve(official["paths"]["/funds-confirmations"]["post"], official)
    header = parameters_by_name(changed)["header:x-fapi-interaction-id"]
    header["schema"]["type"] = "integer"
    found = list(
        differences(parameters_by_name(changed), parameters_by_name(original), "POST /funds-confirmations")
    )
    assert found == [
        "POST /funds-confirmations.header:x-fapi-interaction-id.schema.type: ours 'integer' != official 'string'"
    ]
