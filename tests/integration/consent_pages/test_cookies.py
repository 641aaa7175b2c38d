"""The session cookie (which carries the CSRF token) of the sign-in and dashboard pages: HttpOnly, SameSite=Lax,
Path=/ (shared by /authorize, /login and /consents), and Secure with the __Host- prefix when the issuer is https."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from tests.helpers.bank import sandbox_transports


def cookie_attributes(response: httpx.Response) -> tuple[str, set[str]]:
    header = response.headers["set-cookie"]
    name = header.split("=", 1)[0]
    return name, {part.strip().lower() for part in header.split(";")[1:]}


async def test_the_dashboard_cookie_is_httponly_lax_and_path_scoped(client) -> None:  # type: ignore[no-untyped-def]
    name, attributes = cookie_attributes(await client.get("/consents"))
    assert name == "obgw_psu"
    assert {"httponly", "samesite=lax", "path=/"} <= attributes


async def test_an_https_issuer_makes_the_cookie_secure_and_host_prefixed(settings, gateway_keys, sandbox_app) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.replace(issuer="https://bank.example"), keys=gateway_keys,
                     **sandbox_transports(sandbox_app), create_schema=True)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                     base_url="https://bank.example") as http:
            response = await http.get("/consents")
    name, attributes = cookie_attributes(response)
    assert name == "__Host-obgw_psu"
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
