"""The OBIE OpenAPI documents the gateway serves, derived, loaded and checked once at start-up.

Implements the "route" half of docs/architecture.md section 3 step 1: a request's (method, path) is matched to one
operation of the OBIE Read/Write API v3.1.11 documents (account-info, payment-initiation, confirmation-funds,
vrp).
Each is the official file vendored unmodified in ``openapi/obie/`` (openapi/obie/README.md) keeping only the
operations ``policies/routes.yaml`` declares (``gateway.contract.derive``). Paths are the document ``servers``
entry plus the path template (R/W API profile, "Resource URI Path Structure":
``/open-banking/v3.1/aisp|pisp|cbpii/...``).

Everything expensive happens in ``load_specs``: YAML parsing, keeping the declared operations, OpenAPI 3.0
document validation (openapi-spec-validator, through ``openapi_core.OpenAPI``), and compiling every path
template into a regular expression. Request handling only runs ``OpenApiSpecs.find``: a dict lookup for
literal paths, otherwise a regular-expression match over the few templates with the same number of segments.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from typing import Final

import yaml
from openapi_core import OpenAPI

from gateway import errors
from gateway.contract.derive import HTTP_METHODS
from gateway.contract.derive import operation_names
from gateway.contract.derive import served_document

# API name (what the rest of the gateway calls it) -> its official file, relative to openapi/ (openapi/obie/README.md).
API_FILES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "accounts": "obie/account-and-transaction/v3.1.11/account-info-openapi.yaml",
        "payments": "obie/payment-initiation/v3.1.11/payment-initiation-openapi.yaml",
        "funds": "obie/confirmation-of-funds/v3.1.11/confirmation-funds-openapi.yaml",
        # VRP v3.1.11 shares the PISP base path; its operations are distinct from the payment-initiation ones.
        "vrp": "obie/vrp/v3.1.11/vrp-openapi.yaml",
        # Event Notification v3.1.11, ASPSP side: subscriptions and aggregated polling, base /open-banking/v3.1.
        "events": "obie/event-notification/v3.1.11/events-openapi.yaml",
    }
)

# OBIE OAS security scheme names -> the token kind the route needs (docs/obie-notes.md section 2 legend:
# TPPOAuth2Security = client-credentials token, PSUOAuth2Security = authorization-code token).
SECURITY_TOKEN_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {"TPPOAuth2Security": "client", "PSUOAuth2Security": "customer"}
)

# Where an official document's security requirement contradicts its own specification: the VRP documents (v3.1.11
# and v4.0 alike) declare TPPOAuth2Security on every operation and never use the PSUOAuth2Security they define,
# while the VRP specification's endpoint tables give the payment POST and the funds confirmation on a VRP consent
# the authorization-code grant, as for the other payment orders (docs/obie-notes-vrp-events.md section 5). A
# client-credentials token there would let a TPP pay from a customer's account with no customer behind the call.
TOKEN_KIND_CORRECTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"domesticVrpPost": "customer", "domesticVrpConsentsFundsConfirmation": "customer"}
)

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SpecError(ValueError):
    """An OpenAPI document is missing, unreadable or not a valid OpenAPI 3 document."""


@dataclass(frozen=True, kw_only=True)
class SpecOperation:
    """One operation of one OBIE document, as declared there."""

    api: str
    method: str  # upper case, as in the request line
    path: str  # template relative to the server, e.g. "/accounts/{AccountId}"
    base_path: str  # the document's servers[0].url, e.g. "/open-banking/v3.1/aisp"
    operation_id: str
    security_scheme: str  # "TPPOAuth2Security" or "PSUOAuth2Security"
    scopes: tuple[str, ...]
    path_params: tuple[str, ...]

    @property
    def full_path(self) -> str:
        return self.base_path + self.path

    @property
    def token_kind(self) -> str:
        """The token the operation needs: its security scheme's, unless ``TOKEN_KIND_CORRECTIONS`` says otherwise."""
        return TOKEN_KIND_CORRECTIONS.get(self.operation_id, SECURITY_TOKEN_KIND[self.security_scheme])

    @property
    def key(self) -> tuple[str, str]:
        """(method, full path template): the key policies are looked up by."""
        return (self.method, self.full_path)


@dataclass(frozen=True)
class OperationMatch:
    operation: SpecOperation
    path_params: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class ApiSpec:
    name: str
    file: Path  # the official file the document is derived from
    base_path: str
    document: Mapping[str, Any]  # the served document: the official one with only the declared operations
    openapi: OpenAPI
    operations: tuple[SpecOperation, ...]


@dataclass(frozen=True)
class _Template:
    regex: re.Pattern[str]
    params: tuple[str, ...]
    by_method: Mapping[str, SpecOperation]


@dataclass(frozen=True, kw_only=True)
class OpenApiSpecs:
    """The loaded documents and the lookup tables built from them. Immutable after ``load_specs``."""

    apis: Mapping[str, ApiSpec]
    _literal: Mapping[str, Mapping[str, SpecOperation]] = field(repr=False)
    _templated: Mapping[int, tuple[_Template, ...]] = field(repr=False)
    _by_id: Mapping[str, SpecOperation] = field(repr=False)

    def __getitem__(self, api: str) -> OpenAPI:
        """The openapi-core ``OpenAPI`` object for ``accounts``, ``payments``, ``funds`` or ``vrp``."""
        return self.apis[api].openapi

    def operations(self) -> Iterator[SpecOperation]:
        for spec in self.apis.values():
            yield from spec.operations

    def by_operation_id(self, operation_id: str) -> SpecOperation | None:
        return self._by_id.get(operation_id)

    def find(self, method: str, path: str) -> OperationMatch | None:
        """The operation serving ``method path`` (path as received, without query), or None."""
        method = method.upper()
        literal = self._literal.get(path)
        if literal is not None:
            op = literal.get(method)
            return OperationMatch(op, MappingProxyType({})) if op else None
        for template in self._templated.get(path.count("/"), ()):
            found = template.regex.fullmatch(path)
            if found is None:
                continue
            op = template.by_method.get(method)
            return OperationMatch(op, MappingProxyType(found.groupdict())) if op else None
        return None

    def allowed_methods(self, path: str) -> frozenset[str]:
        """Methods the documents define for ``path``; empty when the path is not ours."""
        literal = self._literal.get(path)
        if literal is not None:
            return frozenset(literal)
        for template in self._templated.get(path.count("/"), ()):
            if template.regex.fullmatch(path):
                return frozenset(template.by_method)
        return frozenset()

    def resolve(self, method: str, path: str) -> OperationMatch:
        """Like ``find`` but fails closed with the OBIE status: 404 for a path we do not serve, 405 for a
        method the path does not define (R/W API profile, "HTTP Status Codes")."""
        match = self.find(method, path)
        if match is not None:
            return match
        if self.allowed_methods(path):
            raise errors.MethodNotAllowed(f"{method.upper()} is not defined for this resource")
        raise errors.NotFound("No such endpoint")


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML document with string mapping keys: the OBIE YAML writes response codes as bare
    integers (``201:``), which OpenAPI 3.0 section 4.7.16 defines as strings."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=loader)  # noqa: S506 - a SafeLoader
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top level")
    return _string_keys(data)  # type: ignore[no-any-return]


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _operations(api: str, document: Mapping[str, Any], file: Path) -> tuple[str, tuple[SpecOperation, ...]]:
    servers = document.get("servers") or []
    if len(servers) != 1 or not str(servers[0].get("url", "")).startswith("/"):
        raise SpecError(f"{file}: expected exactly one relative servers entry, got {servers!r}")
    base_path = str(servers[0]["url"]).rstrip("/")
    out: list[SpecOperation] = []
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            operation_id = op.get("operationId")
            if not operation_id:
                raise SpecError(f"{file}: {method.upper()} {path} has no operationId")
            security = op.get("security", document.get("security")) or []
            # Fail closed: every OBIE operation names exactly one OAuth 2.0 scheme and its scope.
            if len(security) != 1 or len(security[0]) != 1:
                raise SpecError(f"{file}: {operation_id} must name exactly one security scheme")
            ((scheme, scopes),) = security[0].items()
            if scheme not in SECURITY_TOKEN_KIND:
                raise SpecError(f"{file}: {operation_id} uses unknown security scheme {scheme!r}")
            out.append(
                SpecOperation(
                    api=api,
                    method=method.upper(),
                    path=path,
                    base_path=base_path,
                    operation_id=operation_id,
                    security_scheme=scheme,
                    scopes=tuple(scopes),
                    path_params=tuple(_PARAM.findall(path)),
                )
            )
    return base_path, tuple(out)


def _template_regex(full_path: str) -> re.Pattern[str]:
    pattern = ""
    last = 0
    for found in _PARAM.finditer(full_path):
        pattern += re.escape(full_path[last : found.start()])
        # A path parameter is one non-empty segment (RFC 3986 section 3.3); never spans "/".
        pattern += f"(?P<{found.group(1)}>[^/]+)"
        last = found.end()
    pattern += re.escape(full_path[last:])
    return re.compile(pattern)


def load_specs(openapi_dir: Path, *, declared: Collection[str]) -> OpenApiSpecs:
    """Derive, validate and index the OBIE documents, keeping the operations ``declared`` names (the
    routes.yaml entries, ``gateway.contract.policies.routes.declared_operations``). Call once at start-up; raises
    ``SpecError``, also when ``declared`` names an operation no official document has."""
    apis: dict[str, ApiSpec] = {}
    literal: dict[str, dict[str, SpecOperation]] = {}
    templated: dict[str, dict[str, SpecOperation]] = {}
    by_id: dict[str, SpecOperation] = {}
    wanted = frozenset(declared)
    for api, filename in API_FILES.items():
        file = openapi_dir / filename
        document = served_document(official=read_yaml(file), declared=wanted)
        try:
            openapi = OpenAPI.from_dict(document)
        except Exception as exc:  # openapi-spec-validator raises several unrelated types
            raise SpecError(f"{file}: not a valid OpenAPI document ({exc})") from exc
        base_path, operations = _operations(api, document, file)
        for op in operations:
            if op.operation_id in by_id:
                raise SpecError(
                    f"{file}: operationId {op.operation_id} is also used by {by_id[op.operation_id].api}"
                )
            by_id[op.operation_id] = op
            table = templated if op.path_params else literal
            table.setdefault(op.full_path, {})[op.method] = op
        apis[api] = ApiSpec(
            name=api,
            file=file,
            base_path=base_path,
            document=document,
            openapi=openapi,
            operations=operations,
        )
    found = {
        name
        for op in by_id.values()
        for name in operation_names(method=op.method, full_path=op.full_path, operation_id=op.operation_id)
    }
    unknown = sorted(wanted - found)
    if unknown:
        # Fail closed: a declared operation that no official document has would never be served.
        raise SpecError(f"routes.yaml names operation(s) no official OBIE document has: {', '.join(unknown)}")
    by_depth: dict[int, list[_Template]] = {}
    for full_path, methods in templated.items():
        by_depth.setdefault(full_path.count("/"), []).append(
            _Template(
                regex=_template_regex(full_path),
                params=tuple(_PARAM.findall(full_path)),
                by_method=MappingProxyType(dict(methods)),
            )
        )
    return OpenApiSpecs(
        apis=MappingProxyType(apis),
        _literal=MappingProxyType({k: MappingProxyType(v) for k, v in literal.items()}),
        _templated=MappingProxyType({k: tuple(v) for k, v in by_depth.items()}),
        _by_id=MappingProxyType(by_id),
    )
