"""Check any httpx response against the served OpenAPI document of its operation, with openapi-core.

OpenAPI 3.0.3 section 4.7.16-4.7.17 (Responses, Response Object): the status code must be declared for the
operation (or a ``default`` exist), the body must match the declared media type and schema, and every header
the response object marks ``required`` must be present and match its schema. The document is chosen by path:
``/open-banking/v3.1/aisp|pisp|cbpii/...`` are the OBIE v3.1.11 documents as the gateway serves them (the
official files of ``openapi/obie/`` keeping the operations ``policies/routes.yaml`` declares), ``/portal/...`` and
``/directory/...`` the sandbox portal's, everything else the authorization server's ``oauth.yaml``.

Usage from any integration test::

    from tests.contract.validate import assert_conforms
    assert_conforms(response)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.exceptions import HeadersError
from openapi_core.validation.response.exceptions import MissingRequiredHeader
from openapi_core.validation.response.validators import V30ResponseDataValidator
from openapi_core.validation.response.validators import V30ResponseHeadersValidator

from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import API_FILES
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.contract.specs import read_yaml
from gateway.settings import REPO_ROOT

OPENAPI_DIR: Final = REPO_ROOT / "openapi"
POLICIES_DIR: Final = REPO_ROOT / "policies"

# Document name -> its file under openapi/ (the OBIE ones: the official file the served document comes from).
DOCUMENTS: Final[Mapping[str, str]] = {
    **API_FILES,
    "oauth": "oauth.yaml",
    "sandbox": "sandbox.yaml",
}
OBIE_PREFIXES: Final[Mapping[str, str]] = {
    # VRP shares the PISP base path (vrp-openapi.yaml): matched first.
    "/open-banking/v3.1/pisp/domestic-vrp": "vrp",
    "/open-banking/v3.1/aisp/": "accounts",
    "/open-banking/v3.1/pisp/": "payments",
    "/open-banking/v3.1/cbpii/": "funds",
}
SANDBOX_PREFIXES: Final = ("/portal/", "/directory/")
# sandbox.yaml names its server absolutely; a live stack on other ports is matched as if it were there.
SANDBOX_SERVER: Final = "http://127.0.0.1:8001"
MATCH_HOST: Final = "http://127.0.0.1:8000"

# Required response headers a document declares that the system does not send yet, by document (none today).
UNSIGNED_YET: Final[Mapping[str, frozenset[str]]] = {}

# Operations whose success body is in a format the ASPSP chooses, whatever media types the document lists:
# the statement file (Statements.md "Statement File": PDF or any ASPSP-defined format; docs/obie-notes.md section 2.1).
OPAQUE_SUCCESS: Final = frozenset({"GetAccountsAccountIdStatementsStatementIdFile"})


class SpecMismatch(AssertionError):
    """A response differs from what its operation declares."""


def document_for(path: str) -> str:
    """The name of the ``openapi/`` document that declares ``path``."""
    for prefix, name in OBIE_PREFIXES.items():
        if path.startswith(prefix):
            return name
    if path.startswith(SANDBOX_PREFIXES):
        return "sandbox"
    return "oauth"


@functools.cache
def obie_specs() -> OpenApiSpecs:
    """The OBIE documents exactly as the gateway loads them (derived once per process)."""
    return load_specs(OPENAPI_DIR, declared=declared_operations(POLICIES_DIR))


@functools.cache
def document(name: str) -> Mapping[str, Any]:
    """The served document ``name`` as parsed data: the gateway's derived OBIE document, or our own file."""
    if name in API_FILES:
        return obie_specs().apis[name].document
    return read_yaml(OPENAPI_DIR / DOCUMENTS[name])


@functools.cache
def load(name: str) -> OpenAPI:
    """The validated openapi-core object for one served document (built once per process)."""
    if name in API_FILES:
        return obie_specs()[name]
    return OpenAPI.from_dict(dict(document(name)))


@dataclass
class _Request:
    """``openapi_core.protocols.Request`` for an httpx request."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Response:
    """``openapi_core.protocols.Response`` for an httpx response."""

    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


def _probe(response: httpx.Response, name: str) -> tuple[_Request, _Response]:
    request = response.request
    host = SANDBOX_SERVER if name == "sandbox" else MATCH_HOST
    return (
        _Request(
            host_url=host,
            path=request.url.path,
            method=request.method.lower(),
            body=request.content or None,
            content_type=request.headers.get("content-type", ""),
        ),
        _Response(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            headers=dict(response.headers),
            data=response.content or None,
        ),
    )


def _headers_problems(openapi: OpenAPI, request: _Request, reply: _Response, exempt: frozenset[str]) -> list[str]:
    try:
        V30ResponseHeadersValidator(openapi.spec).validate(request, reply)  # type: ignore[arg-type]
    except (HeadersError, MissingRequiredHeader) as exc:
        found = list(exc.context) if isinstance(exc, HeadersError) else [exc]
        return [
            str(error)
            for error in found
            if not (isinstance(error, MissingRequiredHeader) and error.name.lower() in exempt)
        ]
    return []


def mismatches(response: httpx.Response, *, document: str | None = None) -> list[str]:
    """Every way ``response`` differs from its operation's declaration (empty when it conforms)."""
    name = document or document_for(response.request.url.path)
    openapi = load(name)
    request, reply = _probe(response, name)
    where = f"{request.method.upper()} {request.path} -> {reply.status_code} ({DOCUMENTS[name]})"
    problems: list[str] = []
    try:
        V30ResponseDataValidator(openapi.spec).validate(request, reply)  # type: ignore[arg-type]
    except Exception as exc:  # openapi-core raises one type per kind of mismatch; each one is a finding
        cause = getattr(exc, "__cause__", None)
        detail = "; ".join(str(e.message) for e in getattr(cause, "schema_errors", ()) or ())
        problems.append(f"{where}: {type(exc).__name__}: {exc}" + (f" [{detail}]" if detail else ""))
        return problems
    problems += [f"{where}: {p}" for p in _headers_problems(openapi, request, reply, UNSIGNED_YET.get(name, frozenset()))]
    return problems


def assert_conforms(response: httpx.Response, *, document: str | None = None) -> None:
    """Raise ``SpecMismatch`` naming each difference between ``response`` and its ``openapi/`` operation."""
    found = mismatches(response, document=document)
    if found:
        raise SpecMismatch("\n".join(found))


def ob_error_problems(body: Any) -> list[str]:
    """Why ``body`` is not an ``OBErrorResponse1`` (R/W API "Error Response Structure"), by the schema in
    the account-info document (identical in all three OBIE documents)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in _ob_error_validator().iter_errors(body)]


@functools.cache
def _ob_error_validator() -> Any:
    from jsonschema import Draft4Validator

    schemas = _rewrite_refs(document("accounts")["components"]["schemas"])
    return Draft4Validator({"definitions": schemas, **schemas["OBErrorResponse1"]})


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/definitions/") if k == "$ref" else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node
