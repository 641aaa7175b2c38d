"""The bank-backend contract (``openapi/bank-backend.yaml``) loaded once and checked with openapi-core: which
operation a request is, and whether an answer is one the operation declares (OpenAPI 3.0.3 sections 4.7.10,
4.7.16 and 4.7.17: path, parameters, request body, declared status, media type and schema).

docs/architecture.md section 9. Used by ``obgw bank check`` and by the contract tests of both directions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers
from werkzeug.datastructures import ImmutableMultiDict

from gateway.settings import REPO_ROOT

CONTRACT_FILE: Final = REPO_ROOT / "openapi" / "bank-backend.yaml"
# The document's server: requests are matched by path, whatever host the bank's adapter is on.
SERVER: Final = "http://127.0.0.1:8001"
_METHODS: Final = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True, kw_only=True)
class Operation:
    operation_id: str
    method: str
    path: str
    purposes: tuple[str, ...]
    sandbox_only: bool
    tag: str


@dataclass(frozen=True, kw_only=True)
class _Request:
    """An HTTP request as openapi-core reads it (its ``Request`` protocol)."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes
    content_type: str
    host_url: str = SERVER


@dataclass(frozen=True, kw_only=True)
class _Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


def _request(method: str, path: str, *, query: Sequence[tuple[str, str]] = (), headers: Mapping[str, str] | None = None,
             body: bytes = b"", content_type: str = "application/json") -> _Request:
    return _Request(
        method=method.lower(), path=path,
        parameters=RequestParameters(query=ImmutableMultiDict(list(query)), header=Headers(dict(headers or {})),
                                     cookie=ImmutableMultiDict(), path={}),
        body=body, content_type=content_type,
    )


class BankContract:
    """The document, its operations and the two checks (request, answer); build with ``load()``."""

    def __init__(self, *, document: Mapping[str, Any], api: OpenAPI) -> None:
        self.document = document
        self._api = api
        self.operations: tuple[Operation, ...] = tuple(
            Operation(
                operation_id=str(op["operationId"]), method=method.upper(), path=path,
                purposes=tuple(op["x-obgw-purpose"]) if isinstance(op.get("x-obgw-purpose"), list)
                else ((str(op["x-obgw-purpose"]),) if op.get("x-obgw-purpose") else ()),
                sandbox_only=bool(op.get("x-obgw-sandbox-only", False)),
                tag=str((op.get("tags") or [""])[0]),
            )
            for path, item in document["paths"].items()
            for method, op in item.items() if method in _METHODS
        )

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> Operation | None:
        """The operation whose path template and method ``path`` matches (concrete segments before templates)."""
        segments = path.split("/")
        found: list[tuple[int, Operation]] = []
        for op in self.operations:
            template = op.path.split("/")
            if op.method != method.upper() or len(template) != len(segments):
                continue
            if all(t == s or (t.startswith("{") and t.endswith("}") and s) for t, s in zip(template, segments, strict=True)):
                found.append((sum(t.startswith("{") for t in template), op))
        return min(found, key=lambda f: f[0])[1] if found else None

    def check_request(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
                      headers: Mapping[str, str] | None = None, body: bytes = b"",
                      content_type: str = "application/json") -> str | None:
        """None when the request is an operation of the contract, sent as it declares; else why not."""
        if self.match(method, path) is None:
            return f"{method} {path} is no operation of the contract"
        try:
            self._api.validate_request(_request(method, path, query=query, headers=headers, body=body,
                                                content_type=content_type))
        except OpenAPIError as exc:
            return _reason(exc)
        return None

    def check_answer(self, method: str, path: str, *, status: int, body: bytes, content_type: str,
                     headers: Mapping[str, str] | None = None) -> str | None:
        """None when the answer is one the operation declares (status, media type, schema); else why not."""
        if self.match(method, path) is None:
            return f"{method} {path} is no operation of the contract"
        response = _Response(status_code=status, data=body, headers=Headers(dict(headers or {})),
                             content_type=content_type.split(";")[0].strip() or "application/octet-stream")
        try:
            self._api.validate_response(_request(method, path), response)
        except OpenAPIError as exc:
            return _reason(exc)
        return None


def _reason(exc: BaseException) -> str:
    """The schema errors where there are any (path in the body: message), else the validator's own words."""
    details: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        for error in getattr(seen, "schema_errors", None) or ():
            details.append(f"{'/'.join(str(p) for p in error.absolute_path) or 'body'}: {error.message}")
        seen = seen.__cause__
    return ("; ".join(dict.fromkeys(details)) if details else (str(exc) or type(exc).__name__))[:600]


@functools.cache
def load(path: Path = CONTRACT_FILE) -> BankContract:
    """The contract, parsed and its references resolved once per process (the OBIE schemas it names are the
    vendored official files under ``openapi/obie/``)."""
    import yaml

    document = yaml.safe_load(path.read_text())
    return BankContract(document=document, api=OpenAPI.from_file_path(str(path)))
