"""The rulebook resolved once at start-up (docs/architecture.md section 3 step 1): ``load_policies`` reads the
three files of ``policies/`` and gives the ``Policies`` the pipeline looks routes up in, never parsing per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from gateway.contract.policies.fapi import FapiPolicy
from gateway.contract.policies.fapi import load_fapi
from gateway.contract.policies.rate_limits import RateLimits
from gateway.contract.policies.rate_limits import load_rate_limits
from gateway.contract.policies.routes import RoutePolicy
from gateway.contract.policies.routes import load_routes
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import SpecOperation


@dataclass(frozen=True, kw_only=True)
class Policies:
    routes: Mapping[tuple[str, str], RoutePolicy]
    by_operation_id: Mapping[str, RoutePolicy]
    rate_limits: RateLimits
    fapi: FapiPolicy

    def route(self, method: str, path_template: str) -> RoutePolicy | None:
        """The policy for (method, full path template), e.g. ("GET", "/open-banking/v3.1/aisp/accounts")."""
        return self.routes.get((method.upper(), path_template))

    def operations_at(self, path_template: str) -> dict[str, str]:
        """``method -> operationId`` of every operation at the full path template ``path_template``."""
        return {p.method: p.operation_id for p in self.routes.values() if p.path == path_template}

    def for_operation(self, operation: SpecOperation) -> RoutePolicy:
        """The policy of a matched spec operation. ``load_policies`` guarantees one exists for every spec
        operation, so a miss is a programming error and raises ``KeyError`` (never "no policy = allow")."""
        return self.routes[operation.key]


def load_policies(policies_dir: Path, *, specs: OpenApiSpecs) -> Policies:
    """Read, check and resolve ``policies/``. Call once at start-up; raises ``PolicyError``."""
    rate_limits = load_rate_limits(policies_dir)
    fapi = load_fapi(policies_dir)
    routes = load_routes(policies_dir, specs=specs, rate_classes=rate_limits.classes)
    return Policies(
        routes=MappingProxyType(routes),
        by_operation_id=MappingProxyType({p.operation_id: p for p in routes.values()}),
        rate_limits=rate_limits,
        fapi=fapi,
    )
