"""The partner portal: an HTML form and a JSON API to create sandbox apps and list the test customers.

HTML (``/portal``): plain accessible pages (docs/architecture.md section 5), forms protected by ``sandbox.csrf``,
every page under the CSP of ``sandbox.security_headers``; the page that shows a private key is ``no-store``.
JSON (``/portal/api``):

* ``POST /portal/api/apps`` ``{name, redirect_uris, roles, token_endpoint_auth_method?, jwks?}`` -> 201
* ``GET /portal/api/apps/{software_id}`` -> 200, the public view with a freshly issued SSA
* ``GET /portal/api/psus`` -> 200, the documented test customers

The JSON API accepts only ``application/json`` bodies: a cross-site HTML form cannot send that content type
without a CORS preflight, which this app never grants, so the API needs no CSRF token.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox import bodies
from sandbox import csrf
from sandbox.customers import psu_listing
from sandbox.errors import InvalidRequest
from sandbox.errors import SandboxError
from sandbox.examples import curl_example
from sandbox.examples import python_example
from sandbox.services import SandboxServices
from sandbox.services import services
from sandbox.software import create_software
from sandbox.software import describe
from sandbox.software import get_software
from sandbox.software import parse_app_request
from sandbox.software import parse_jwks_text

ROLE_LABELS = (
    ("AISP", "account information"),
    ("PISP", "payment initiation"),
    ("CBPII", "card-based funds confirmation"),
)
NO_STORE = {"cache-control": "no-store"}


def _secure_cookie(svc: SandboxServices) -> bool:
    return svc.settings.public_url.startswith("https://")


# --------------------------------------------------------------------------- JSON API


async def api_create_app(request: Request) -> JSONResponse:
    svc = services(request)
    data = await bodies.json_object(request, limit=svc.settings.max_form_bytes)
    created = await create_software(
        db=svc.db, directory=svc.directory, ca=svc.ca, request=parse_app_request(data)
    )
    return JSONResponse(created.as_json(), status_code=201, headers=NO_STORE)


async def api_get_app(request: Request) -> JSONResponse:
    svc = services(request)
    app = await get_software(db=svc.db, software_id=request.path_params["software_id"])
    statement = svc.directory.issue_software_statement(app=app)
    return JSONResponse(describe(app, software_statement=statement), headers=NO_STORE)


async def api_psus(request: Request) -> JSONResponse:
    return JSONResponse({"psus": psu_listing()})


# --------------------------------------------------------------------------- HTML


_EMPTY_FORM: dict[str, Any] = {
    "name": "",
    "redirect_uris": "",
    "roles": ["AISP"],
    "token_endpoint_auth_method": "private_key_jwt",
    "key_source": "generate",
    "jwks": "",
}


def _render_portal(
    request: Request, *, form: dict[str, Any], error: SandboxError | None = None, status_code: int = 200
) -> Response:
    svc = services(request)
    token, new_cookie = csrf.token_for(request, secret=svc.portal_secret)
    response = svc.templates.TemplateResponse(
        request,
        "portal.html",
        {
            "gateway_issuer": svc.settings.gateway_issuer,
            "csrf_token": token,
            "form": form,
            "roles": ROLE_LABELS,
            "psus": psu_listing(),
            "error": error,
        },
        status_code=status_code,
        headers=NO_STORE,
    )
    if new_cookie:
        csrf.set_cookie(response, new_cookie, secure=_secure_cookie(svc))
    return response


async def portal_page(request: Request) -> Response:
    return _render_portal(request, form=dict(_EMPTY_FORM))


async def portal_root(request: Request) -> Response:
    return RedirectResponse("/portal", status_code=303)


async def portal_create_app(request: Request) -> Response:
    svc = services(request)
    try:
        form = await bodies.form(request, limit=svc.settings.max_form_bytes)
    except SandboxError as exc:
        return _error_page(request, exc)
    try:
        csrf.check(request, form.get(csrf.FIELD_NAME), secret=svc.portal_secret)
    except SandboxError as exc:
        return _error_page(request, exc)
    echo = {
        "name": str(form.get("name") or ""),
        "redirect_uris": str(form.get("redirect_uris") or ""),
        "roles": [str(r) for r in form.getlist("roles")],
        "token_endpoint_auth_method": str(form.get("token_endpoint_auth_method") or ""),
        "key_source": str(form.get("key_source") or "generate"),
        "jwks": str(form.get("jwks") or ""),
    }
    try:
        data: dict[str, Any] = {
            "name": echo["name"],
            "redirect_uris": echo["redirect_uris"].splitlines(),
            "roles": echo["roles"],
            "token_endpoint_auth_method": echo["token_endpoint_auth_method"] or None,
        }
        if echo["key_source"] == "paste":
            if not echo["jwks"].strip():
                raise InvalidRequest("paste a public JWKS or let the portal generate keys", field="jwks", rule="required")
            data["jwks"] = parse_jwks_text(echo["jwks"])
        elif echo["key_source"] != "generate":
            raise InvalidRequest("choose generate or paste", field="key_source", rule="enum:generate,paste")
        created = await create_software(
            db=svc.db, directory=svc.directory, ca=svc.ca, request=parse_app_request(data)
        )
    except SandboxError as exc:
        return _render_portal(request, form=echo, error=exc, status_code=exc.status_code)
    body = created.as_json()
    return svc.templates.TemplateResponse(
        request,
        "created.html",
        {
            "gateway_issuer": svc.settings.gateway_issuer,
            "app": body,
            "private_jwk": json.dumps(created.private_jwk, indent=2) if created.private_jwk else None,
            "client_key_pem": created.client_key_pem,
            "curl_example": curl_example(
                created.app, software_statement=created.software_statement, issuer=svc.settings.gateway_issuer
            ),
            "python_example": python_example(
                created.app, software_statement=created.software_statement, issuer=svc.settings.gateway_issuer
            ),
        },
        status_code=201,
        headers=NO_STORE,
    )


def _error_page(request: Request, exc: SandboxError) -> Response:
    svc = services(request)
    return svc.templates.TemplateResponse(
        request,
        "error.html",
        {"gateway_issuer": svc.settings.gateway_issuer, "error": exc},
        status_code=exc.status_code,
        headers=NO_STORE,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", portal_root, methods=["GET"]),
        Route("/portal", portal_page, methods=["GET"]),
        Route("/portal/apps", portal_create_app, methods=["POST"]),
        Route("/portal/api/apps", api_create_app, methods=["POST"]),
        Route("/portal/api/apps/{software_id}", api_get_app, methods=["GET"]),
        Route("/portal/api/psus", api_psus, methods=["GET"]),
    ]
