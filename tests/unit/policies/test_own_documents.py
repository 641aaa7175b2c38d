"""Our own OpenAPI documents (authorization server, sandbox portal) are valid OpenAPI 3 and document only
endpoints that exist, with the methods they accept."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from gateway.contract.specs import HTTP_METHODS
from gateway.contract.specs import read_yaml

from .conftest import OPENAPI_DIR


def _shape(path: str) -> str:
    # Parameter names differ in spelling ({ClientId} vs {client_id}); the shape is what a client calls.
    return re.sub(r"\{[^}]+\}", "{}", path)


def _documented(name: str) -> set[tuple[str, str]]:
    document = read_yaml(OPENAPI_DIR / name)
    return {
        (method.upper(), _shape(path))
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _served(routes: list[object]) -> set[tuple[str, str]]:
    return {
        (method, _shape(route.path))
        for route in routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }


@pytest.mark.parametrize("name", ["oauth.yaml", "sandbox.yaml"])
async def test_our_documents_are_valid_openapi(name: str) -> None:
    validate(read_yaml(OPENAPI_DIR / name))


async def test_the_oauth_document_covers_the_authorization_server_endpoints() -> None:
    from gateway.hosting import sandbox_controls
    from gateway.oauth.routes import routes
    from gateway.settings import Settings

    documented = _documented("oauth.yaml")
    # The document also describes the sandbox-mode scenario controls (mounted in sandbox mode only).
    assert documented <= _served(routes()) | _served(sandbox_controls.routes(Settings()))
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"):
        assert ("GET", path) in documented
    for path in ("/par", "/token", "/introspect", "/revoke", "/register"):
        assert ("POST", path) in documented
    assert {("GET", "/register/{}"), ("PUT", "/register/{}"), ("DELETE", "/register/{}")} <= documented
    assert ("GET", "/authorize") in documented


async def test_the_sandbox_document_covers_the_portal_api_and_directory() -> None:
    from sandbox import directory
    from sandbox import portal

    documented = _documented("sandbox.yaml")
    assert documented <= _served([*portal.routes(), *directory.routes()])
    assert documented == {
        ("POST", "/portal/api/apps"),
        ("GET", "/portal/api/apps/{}"),
        ("GET", "/portal/api/psus"),
        ("GET", "/directory/jwks"),
        ("GET", "/directory/software/{}/jwks"),
    }
