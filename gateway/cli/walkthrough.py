"""What ``obgw up`` prints once both servers listen: where things are and a first-call walkthrough."""

from __future__ import annotations

import httpx

from gateway.settings import Settings


async def _customers(settings: Settings) -> list[str]:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            response = await http.get(f"{settings.sandbox_url}/portal/api/psus")
        response.raise_for_status()
        psus = response.json().get("psus", [])
    except (httpx.HTTPError, ValueError):
        return ["  (the sandbox did not list its customers: see 'obgw sandbox psus')"]
    lines = []
    for psu in psus:
        lines.append(f"  {psu.get('username', '?'):<6} / {psu.get('password', '?'):<18} {psu.get('summary', '')}")
    return lines


async def banner(settings: Settings) -> str:
    issuer = settings.issuer
    sandbox = settings.sandbox_url
    lines = [
        "",
        "obgw is running (Ctrl-C stops both servers)",
        f"  gateway + authorization server  {issuer}",
        f"  discovery                       {issuer}/.well-known/openid-configuration",
        f"  sandbox bank + partner portal   {sandbox}/portal",
        f"  database                        {settings.database_url}",
        "",
        "Test customers (sandbox only):",
        *(await _customers(settings)),
        "",
        "First call in five steps:",
        f"  1. Open {sandbox}/portal, create an app (or: obgw sandbox tpp create --name Demo",
        "     --redirect-uri https://example.com/cb --json) and keep the private key it shows once.",
        f"  2. Register: POST the software statement to {issuer}/register (RFC 7591 JSON or a signed JWT).",
        f"  3. Get a client_credentials token at {issuer}/token with private_key_jwt and a DPoP proof.",
        f"  4. Push an authorization request to {issuer}/par (PKCE S256), send the customer to",
        f"     {issuer}/authorize?client_id=...&request_uri=..., sign in as a test customer, approve.",
        "  5. Redeem the code at /token with the same DPoP key; refresh, introspect, revoke.",
        "  The portal shows the same steps as copy-paste curl and Python.",
        "",
    ]
    return "\n".join(lines)
