"""``policies/routes.yaml``: what each served OBIE v3.1.11 operation (docs/obie-notes.md section 2) requires, checked
against the OpenAPI documents: the token kind, scope (docs/obie-notes.md section 7), AIS permissions
(docs/obie-notes.md section 4), rate class, idempotency (docs/obie-notes.md section 5, "x-idempotency-key"), message
signing (docs/obie-notes.md section 5, "x-jws-signature") and whether the path carries an ``{AccountId}``.

``declared_operations`` names the operations the served documents keep (``gateway.contract.derive``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from typing import Literal

from gateway.contract.policies.checking import PolicyEntry
from gateway.contract.policies.checking import PolicyError
from gateway.contract.policies.checking import read_policy_file
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import SpecOperation

ROUTES_FILE: Final = "routes.yaml"

TokenKind = Literal["client", "customer"]
TOKEN_KINDS: Final = frozenset({"client", "customer"})
# OBIE scopes (docs/obie-notes.md section 7): one per API.
SCOPES: Final = frozenset({"accounts", "payments", "fundsconfirmations"})


@dataclass(frozen=True, kw_only=True)
class RoutePolicy:
    """What one OBIE operation requires. Built at start-up; the pipeline only reads it."""

    operation_id: str
    api: str
    method: str
    path: str  # full path template, e.g. /open-banking/v3.1/aisp/accounts/{AccountId}
    token: TokenKind
    # The token must hold at least one of these (the OBIE document lists the roles that may call: the Events
    # operations accept an AISP's, a PISP's or a CBPII's token).
    scopes: tuple[str, ...]
    # Conjunction of alternatives: the consent must share at least one permission with every set (AISP
    # profile "Permissions"; transactions need Basic/Detail and Credits/Debits). Empty: no consent permission
    # is involved (client-token routes, payments, funds confirmation).
    permissions: tuple[frozenset[str], ...]
    rate_class: str
    idempotent: bool
    signed_request: bool
    signed_response: bool
    account_scoped: bool

    def permits(self, granted: Collection[str]) -> bool:
        """True when ``granted`` (a consent's permissions) covers this route."""
        return all(not alternatives.isdisjoint(granted) for alternatives in self.permissions)


def ais_permissions(specs: OpenApiSpecs) -> frozenset[str]:
    """The 21 OBIE AIS permission codes, as the account-info document enumerates them
    (OBReadConsent1.Data.Permissions, OBExternalPermissions1Code; docs/obie-notes.md section 4)."""
    schemas = specs.apis["accounts"].document["components"]["schemas"]
    return frozenset(
        schemas["OBReadConsent1"]["properties"]["Data"]["properties"]["Permissions"]["items"]["enum"]
    )


def _permissions(entry: PolicyEntry, permission_names: frozenset[str]) -> tuple[frozenset[str], ...]:
    block = entry.child("permissions")
    if "any_of" in block.value:
        block.keys(required={"any_of"})
        return (frozenset(block.string_list("any_of", choices=permission_names, what="permission")),)
    block.keys(required={"all_of"})
    sets = block.value["all_of"]
    if not isinstance(sets, list) or not sets:
        block.fail("all_of must be a non-empty list of {any_of: [...]} entries")
    out = []
    for index, item in enumerate(sets):
        alternative = PolicyEntry(entry.file, f"{block.entry}.all_of[{index}]", item)
        alternative.keys(required={"any_of"})
        out.append(frozenset(alternative.string_list("any_of", choices=permission_names, what="permission")))
    return tuple(out)


def _route_entries(policies_dir: Path) -> list[PolicyEntry]:
    top = read_policy_file(policies_dir, ROUTES_FILE)
    top.keys(required={"version", "routes"})
    entries = top.value["routes"]
    if not isinstance(entries, list) or not entries:
        top.fail("routes must be a non-empty list")
    out = []
    for index, raw in enumerate(entries):
        label = f"routes[{index}]"
        if isinstance(raw, dict) and isinstance(raw.get("operation"), str):
            label += f" ({raw['operation']})"
        out.append(PolicyEntry(ROUTES_FILE, label, raw))
    return out


def _declared_name(entry: PolicyEntry) -> str:
    """The operation an entry names: its operationId, or ``"METHOD /full/path"`` (``gateway.contract.derive``)."""
    if "operation" in entry.value:
        if "method" in entry.value or "path" in entry.value:
            entry.fail("name the operation by operation or by method + path, not both")
        return entry.string("operation")
    if "method" not in entry.value or "path" not in entry.value:
        entry.fail("missing key(s): operation, or method and path")
    return f"{entry.string('method').upper()} {entry.string('path')}"


def declared_operations(policies_dir: Path) -> frozenset[str]:
    """The operations routes.yaml declares, named as ``gateway.contract.derive.served_document`` takes them: the
    served OBIE documents keep exactly these. Read before the specs are loaded, since ``load_policies`` checks
    routes.yaml against them; raises ``PolicyError``."""
    return frozenset(_declared_name(entry) for entry in _route_entries(policies_dir))


def _operation_for(entry: PolicyEntry, specs: OpenApiSpecs) -> SpecOperation:
    name = _declared_name(entry)
    if "operation" in entry.value:
        op = specs.by_operation_id(name)
        if op is None:
            entry.fail(f"operation {name} is not in the OpenAPI documents")
        assert op is not None
        return op
    for op in specs.operations():
        if f"{op.method} {op.full_path}" == name:
            return op
    entry.fail(f"{name} is not an operation in the OpenAPI documents")
    raise AssertionError("unreachable")


_ROUTE_KEYS: Final = frozenset(
    {"token", "scope", "rate_class", "idempotent", "signed_request", "signed_response", "account_scoped"}
)


def load_routes(
    policies_dir: Path, *, specs: OpenApiSpecs, rate_classes: frozenset[str]
) -> dict[tuple[str, str], RoutePolicy]:
    permission_names = ais_permissions(specs)
    routes: dict[tuple[str, str], RoutePolicy] = {}
    for entry in _route_entries(policies_dir):
        entry.keys(required=_ROUTE_KEYS, optional={"operation", "method", "path", "permissions"})
        op = _operation_for(entry, specs)
        if op.key in routes:
            entry.fail(f"{op.operation_id} ({op.method} {op.full_path}) is listed twice")
        token = entry.string("token", choices=TOKEN_KINDS)
        # The OBIE document's security requirement decides the token kind (docs/obie-notes.md section 2 legend),
        # corrected where the document contradicts its specification (gateway.contract.specs.TOKEN_KIND_CORRECTIONS).
        if token != op.token_kind:
            entry.fail(
                f"token {token} contradicts the OpenAPI security scheme {op.security_scheme} "
                f"(needs {op.token_kind})"
            )
        # One scope, or a list of which any one suffices; each must be one the OBIE document declares.
        scopes = (entry.string("scope", choices=SCOPES),) if isinstance(entry.value["scope"], str) else (
            entry.string_list("scope", choices=SCOPES, what="scope"))
        undeclared = [s for s in scopes if s not in op.scopes]
        if undeclared:
            entry.fail(
                f"scope {', '.join(undeclared)} is not a scope the OpenAPI document declares ({', '.join(op.scopes)})"
            )
        # docs/obie-notes.md section 4: AIS data endpoints are gated by consent permissions; nothing else is.
        needs_permissions = op.api == "accounts" and token == "customer"
        if needs_permissions and "permissions" not in entry.value:
            entry.fail("permissions are required on account-information customer routes (docs/obie-notes.md section 4)")
        if not needs_permissions and "permissions" in entry.value:
            entry.fail("permissions apply only to account-information customer routes")
        permissions = _permissions(entry, permission_names) if needs_permissions else ()
        rate_class = entry.string("rate_class", choices=rate_classes)
        idempotent = entry.boolean("idempotent")
        if idempotent and op.method != "POST":
            entry.fail("idempotent applies to POST only (x-idempotency-key, docs/obie-notes.md section 5)")
        signed_request = entry.boolean("signed_request")
        if signed_request and op.method not in ("POST", "PUT"):
            entry.fail("signed_request needs a request body (POST or PUT)")
        account_scoped = entry.boolean("account_scoped")
        if account_scoped != ("AccountId" in op.path_params):
            entry.fail(f"account_scoped must be {'AccountId' in op.path_params} for path {op.path}")
        routes[op.key] = RoutePolicy(
            operation_id=op.operation_id,
            api=op.api,
            method=op.method,
            path=op.full_path,
            token=token,  # type: ignore[arg-type]
            scopes=scopes,
            permissions=permissions,
            rate_class=rate_class,
            idempotent=idempotent,
            signed_request=signed_request,
            signed_response=entry.boolean("signed_response"),
            account_scoped=account_scoped,
        )
    missing = [op for op in specs.operations() if op.key not in routes]
    if missing:
        # Fail closed: an operation we publish must have a rule, or the pipeline could not enforce it (the
        # served documents are derived from routes.yaml, so only specs loaded from another list get here).
        names = ", ".join(f"{op.operation_id} ({op.method} {op.full_path})" for op in missing)
        raise PolicyError(
            ROUTES_FILE, "routes", f"operation(s) in the OpenAPI documents without a policy: {names}"
        )
    return routes
