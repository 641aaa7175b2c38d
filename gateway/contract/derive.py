"""The OBIE documents the gateway serves, derived from the official files without changing them.

openapi/obie/README.md: the official Read/Write API v3.1.11 files are vendored byte for byte and never edited.
docs/architecture.md section 2 (``openapi/``): the gateway serves each of them cut down to the operations
``policies/routes.yaml`` declares. ``served_document`` is that cut, done once at start-up on the parsed file:

* an operation stays when routes.yaml names it, by ``operationId`` or by ``"METHOD /full/path"`` (the
  document's ``servers`` URL plus the path template, as a routes.yaml ``method`` + ``path`` entry names it);
* a path item keeps its own fields (``parameters``, ``summary``, ...) and is dropped when no operation is left;
* everything else (``openapi``, ``info``, ``servers``, ``security``, ``tags``, ``components``) and every kept
  operation is the official data, the same objects as parsed.

An operation left out is answered 404 or 405 (R/W API profile, "400 v/s 404"). The hand-trimmed copies this
replaces differed from the official files only by dropped path items, an ``x-obgw-source`` note and line
endings, so nothing here corrects the official text.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from typing import Any
from typing import Final

# The fields of an OpenAPI 3.0 Path Item Object that are operations (OpenAPI 3.0.3 section 4.7.9).
HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def base_path(document: Mapping[str, Any]) -> str:
    """The document's first ``servers`` URL without a trailing slash ("" when it has none)."""
    servers = document.get("servers") or [{}]
    return str(servers[0].get("url", "")).rstrip("/")


def operation_names(*, method: str, full_path: str, operation_id: str) -> tuple[str, str]:
    """The two names routes.yaml may give one operation: its operationId and ``"METHOD /full/path"``."""
    return operation_id, f"{method.upper()} {full_path}"


def served_document(*, official: Mapping[str, Any], declared: Collection[str]) -> dict[str, Any]:
    """``official`` keeping only the operations ``declared`` names (see the module docstring)."""
    base = base_path(official)

    def wanted(method: str, path: str, operation: Mapping[str, Any]) -> bool:
        names = operation_names(method=method, full_path=base + path, operation_id=str(operation.get("operationId")))
        return any(name in declared for name in names)

    paths: dict[str, Any] = {}
    for path, item in (official.get("paths") or {}).items():
        kept = {key: value for key, value in item.items() if key not in HTTP_METHODS or wanted(key, path, value)}
        if any(key in HTTP_METHODS for key in kept):
            paths[path] = kept
    return {key: (paths if key == "paths" else value) for key, value in official.items()}
