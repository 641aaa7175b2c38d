"""Every authorization-server endpoint, in one list for ``gateway.app``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.oauth import authorize
from gateway.oauth import bank_sign_in
from gateway.oauth import introspection
from gateway.oauth import metadata
from gateway.oauth import par
from gateway.oauth import registration
from gateway.oauth import revocation
from gateway.oauth import token


def routes() -> list[BaseRoute]:
    return [
        *metadata.routes(),
        *registration.routes(),
        *par.routes(),
        *authorize.routes(),
        *bank_sign_in.routes(),
        *token.routes(),
        *introspection.routes(),
        *revocation.routes(),
    ]
