"""The portal's HTML pages: labelled form, CSRF-protected post (signed double-submit), CSP with
``frame-ancestors 'none'``, a result page showing the SSA, the private key once and working examples."""

from __future__ import annotations

import html
import re

import httpx

FORM = {
    "name": "Budget app",
    "redirect_uris": "https://tpp.example/cb\nhttps://tpp.example/cb2",
    "roles": ["AISP", "CBPII"],
    "token_endpoint_auth_method": "private_key_jwt",
    "key_source": "generate",
    "jwks": "",
}


async def csrf_token(sandbox: httpx.AsyncClient) -> str:
    page = await sandbox.get("/portal")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def textarea(page: str, element_id: str) -> str:
    match = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, element_id
    return html.unescape(match.group(1))


async def test_portal_page_is_labelled_and_framing_is_forbidden(sandbox: httpx.AsyncClient) -> None:
    page = await sandbox.get("/portal")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    for field in ("name", "redirect_uris", "role-AISP", "role-PISP", "role-CBPII", "auth-tls_client_auth", "jwks"):
        assert f'for="{field}"' in page.text and f'id="{field}"' in page.text
    assert "alice-wonderland" in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


async def test_form_round_trip_shows_ssa_private_key_once_and_examples(sandbox: httpx.AsyncClient) -> None:
    token = await csrf_token(sandbox)
    response = await sandbox.post("/portal/apps", data={**FORM, "csrf_token": token})
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    software_id = re.search(r'<code id="software-id">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    assert re.search(r'<code id="org-id">[A-Za-z0-9]{18}</code>', page)
    assert textarea(page, "ssa").count(".") == 2
    assert '"d"' in textarea(page, "private-jwk")
    python = html.unescape(re.search(r'<pre id="example-python"><code>(.*?)</code></pre>', page, re.S).group(1))  # type: ignore[union-attr]
    compile(python, "example.py", "exec")
    assert "/.well-known/openid-configuration" in python and "DPoP" in python
    assert "registration_endpoint" in page
    later = (await sandbox.get(f"/portal/api/apps/{software_id}")).json()
    assert later["redirect_uris"] == ["https://tpp.example/cb", "https://tpp.example/cb2"]
    assert later["roles"] == ["AISP", "CBPII"]


async def test_tls_client_auth_form_shows_certificate_and_subject_dn(sandbox: httpx.AsyncClient) -> None:
    token = await csrf_token(sandbox)
    response = await sandbox.post(
        "/portal/apps", data={**FORM, "token_endpoint_auth_method": "tls_client_auth", "csrf_token": token}
    )
    assert response.status_code == 201
    assert "BEGIN CERTIFICATE" in textarea(response.text, "client-cert")
    assert "PRIVATE KEY" in textarea(response.text, "client-key")
    assert re.search(r'<code id="subject-dn">CN=[A-Za-z0-9]{22},OU=', response.text)
    python = html.unescape(re.search(r'<pre id="example-python"><code>(.*?)</code></pre>', response.text, re.S).group(1))  # type: ignore[union-attr]
    compile(python, "example.py", "exec")


async def test_post_without_csrf_token_is_refused(sandbox: httpx.AsyncClient) -> None:
    await csrf_token(sandbox)
    response = await sandbox.post("/portal/apps", data=FORM)
    assert response.status_code == 403
    assert 'data-error-code="csrf_failed"' in response.text


async def test_post_with_a_forged_csrf_token_is_refused(sandbox: httpx.AsyncClient) -> None:
    await csrf_token(sandbox)
    response = await sandbox.post("/portal/apps", data={**FORM, "csrf_token": "0" * 64})
    assert response.status_code == 403
    assert 'data-error-code="csrf_failed"' in response.text


async def test_post_without_the_csrf_cookie_is_refused(sandbox: httpx.AsyncClient) -> None:
    token = await csrf_token(sandbox)
    sandbox.cookies.clear()
    response = await sandbox.post("/portal/apps", data={**FORM, "csrf_token": token})
    assert response.status_code == 403
    assert 'data-error-code="csrf_failed"' in response.text


async def test_invalid_form_is_shown_again_with_the_rule(sandbox: httpx.AsyncClient) -> None:
    token = await csrf_token(sandbox)
    response = await sandbox.post(
        "/portal/apps", data={**FORM, "redirect_uris": "ftp://tpp.example/cb", "csrf_token": token}
    )
    assert response.status_code == 400
    assert 'data-error-code="invalid_request"' in response.text
    assert "absolute_http_url" in response.text
    assert "ftp://tpp.example/cb</textarea>" in response.text


async def test_paste_without_jwks_is_refused(sandbox: httpx.AsyncClient) -> None:
    token = await csrf_token(sandbox)
    response = await sandbox.post("/portal/apps", data={**FORM, "key_source": "paste", "csrf_token": token})
    assert response.status_code == 400
    assert 'data-error-code="invalid_request"' in response.text
    assert "<code>jwks</code>" in response.text


async def test_portal_links_to_the_event_log_page_the_gateway_hosts(sandbox: httpx.AsyncClient) -> None:
    # The portal knows no developer (docs/architecture.md section 7): it links to the gateway's page, where the
    # developer signs in as its client.
    page = (await sandbox.get("/portal")).text
    issuer = re.search(r'<a href="([^"]+)/.well-known/openid-configuration"', page).group(1)  # type: ignore[union-attr]
    assert f'<a href="{issuer}/sandbox/v1/event-log">' in page
    created = await sandbox.post("/portal/apps", data={**FORM, "csrf_token": await csrf_token(sandbox)})
    assert f'<a href="{issuer}/sandbox/v1/event-log">' in created.text
