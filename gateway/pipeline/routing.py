"""Step 1 of the enforcement pipeline (docs/architecture.md section 3): request -> operation -> route policy.

Everything is resolved at start-up: ``RouteTable.build`` walks the OBIE account-information operations of
``policies/routes.yaml`` once and keeps, per operation, the policy, the path template relative to the API base
(``/accounts/{AccountId}/transactions``, the key the consent domain understands) and the resource name response
shaping works on. Per request there is one ``OpenApiSpecs.resolve`` (a dict lookup for literal paths, a regular
expression over the few templates with the same number of segments) and one dict lookup here.

R/W API v3.1.11 "HTTP Status Codes": a path the specification does not define is 404, a method the resource does
not support is 405 (both without a body).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gateway.contract.policies.loader import Policies
from gateway.contract.policies.routes import RoutePolicy
from gateway.contract.specs import OpenApiSpecs
from gateway.errors import NotFound

AIS_API: Final = "accounts"

# Path segment naming the resource -> the name shaping and consent.permissions use.
_RESOURCE_OF_SEGMENT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "accounts": "accounts",
        "balances": "balances",
        "transactions": "transactions",
        "beneficiaries": "beneficiaries",
        "direct-debits": "direct-debits",
        "standing-orders": "standing-orders",
        "scheduled-payments": "scheduled-payments",
        "statements": "statements",
        "file": "statement-file",
        "product": "products",
        "products": "products",
        "offers": "offers",
        "party": "party",
        "parties": "parties",
    }
)


@dataclass(frozen=True, kw_only=True)
class PreparedRoute:
    policy: RoutePolicy
    endpoint: str  # path template relative to the API base
    resource: str


@dataclass(frozen=True, kw_only=True)
class RouteMatch:
    route: PreparedRoute
    sub_path: str  # the concrete request path relative to the API base
    account_id: str | None
    path_params: Mapping[str, str]

    @property
    def policy(self) -> RoutePolicy:
        return self.route.policy


def resource_of(endpoint: str) -> str:
    """The resource an endpoint template serves: its last literal segment (``/accounts/{AccountId}`` ->
    ``accounts``; ``/statements/{StatementId}`` -> ``statements``). Unknown segments raise ``KeyError``."""
    literals = [part for part in endpoint.split("/") if part and not part.startswith("{")]
    return _RESOURCE_OF_SEGMENT[literals[-1]]


@dataclass(frozen=True, kw_only=True)
class RouteTable:
    specs: OpenApiSpecs
    by_key: Mapping[tuple[str, str], PreparedRoute]
    base: str

    @classmethod
    def build(cls, *, specs: OpenApiSpecs, policies: Policies, api: str = AIS_API) -> RouteTable:
        """Prepare every customer-token operation of ``api`` (account information by default)."""
        base = specs.apis[api].base_path
        table: dict[tuple[str, str], PreparedRoute] = {}
        for key, policy in policies.routes.items():
            if policy.api != api or policy.token != "customer":
                continue
            endpoint = policy.path.removeprefix(base)
            table[key] = PreparedRoute(policy=policy, endpoint=endpoint, resource=resource_of(endpoint))
        if not table:
            raise ValueError(f"no customer operations for api {api!r} in the policies")
        return cls(specs=specs, by_key=MappingProxyType(table), base=base)

    def templates(self) -> list[str]:
        """The full path templates served, for mounting."""
        return sorted({route.policy.path for route in self.by_key.values()})

    def match(self, *, method: str, path: str) -> RouteMatch:
        """The prepared route for a request, or 404/405 (fail closed: an operation without a prepared
        customer route, e.g. a consent endpoint reaching this handler, is 404 here, never served unchecked)."""
        found = self.specs.resolve(method, path)
        route = self.by_key.get(found.operation.key)
        if route is None:
            raise NotFound("No such endpoint")
        return RouteMatch(
            route=route,
            sub_path=path.removeprefix(self.base),
            # The rulebook's account_scoped flag says whether the path names an account the consent must hold.
            account_id=found.path_params["AccountId"] if route.policy.account_scoped else None,
            path_params=found.path_params,
        )
