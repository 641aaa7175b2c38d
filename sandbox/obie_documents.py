"""The OBIE documents the portal publishes: the official files cut to the operations the gateway serves.

docs/architecture.md section 2 (``openapi/``): the gateway serves each official Read/Write API v3.1.11 file of
``openapi/obie/`` (vendored unmodified, openapi/obie/README.md) keeping only the operations
``policies/routes.yaml`` declares, so a partner must read the same cut. The sandbox imports nothing of the
gateway, so the rule is restated here: an operation stays when routes.yaml names it by ``operation`` (its
operationId) or by ``method`` + ``path`` (the ``servers`` URL plus the path template); a path item keeps its own
fields and is dropped when no operation is left; everything else is the official data. A test checks that
this gives exactly the documents the gateway loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from typing import Final

import yaml

# The operation fields of an OpenAPI 3.0 Path Item Object (OpenAPI 3.0.3 section 4.7.9).
OPERATIONS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Final = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def declared(routes_file: Path) -> frozenset[str]:
    """Each operation routes.yaml lists, as its operationId or ``"METHOD /full/path"``."""
    routes = yaml.load(routes_file.read_text(encoding="utf-8"), Loader=_LOADER)["routes"]  # noqa: S506
    return frozenset(
        str(entry["operation"]) if "operation" in entry else f"{str(entry['method']).upper()} {entry['path']}"
        for entry in routes
    )


def served(official: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """``official`` with only the operations ``names`` lists."""
    base = str((official.get("servers") or [{}])[0].get("url", "")).rstrip("/")
    paths: dict[str, Any] = {}
    for path, item in official["paths"].items():
        kept = {
            key: value
            for key, value in item.items()
            if key not in OPERATIONS or value.get("operationId") in names or f"{key.upper()} {base}{path}" in names
        }
        if OPERATIONS & set(kept):
            paths[path] = kept
    return {key: (paths if key == "paths" else value) for key, value in official.items()}


def served_yaml(*, official_file: Path, routes_file: Path) -> bytes:
    """The published document as YAML, headed by a comment naming its source. Build once, at start-up."""
    official = yaml.load(official_file.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    text = yaml.dump(served(official, declared(routes_file)), Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    header = (
        f"# The official OBIE file {official_file.name} (Open Banking Limited, see info.license), keeping only\n"
        "# the operations this gateway serves; every kept operation and all components are unchanged.\n"
    )
    return (header + text).encode("utf-8")
