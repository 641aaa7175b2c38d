"""Partner documentation in the sandbox portal: the OpenAPI documents, a rendered reference and a guide.

* ``GET /portal/specs/{name}.yaml``: the OpenAPI 3.0 documents exactly as the gateway validates against them:
  the OBIE ones are the official files of ``openapi/obie/`` keeping only the operations the gateway serves
  (``sandbox.obie_documents``), ``oauth`` and ``sandbox`` are the files of ``openapi/`` as they are. Built
  once, when the routes are made; a request only picks one.
* ``GET /portal/docs``: the list; ``GET /portal/docs/reference/{name}``: Swagger UI over one document, from the
  assets packaged in ``sandbox/static`` (no network at run time).
* ``GET /portal/docs/getting-started``: zero to a first consent and token, with the example files of
  ``sandbox/docs`` included verbatim (a test runs the Python one against a live stack, so they cannot rot).
* ``GET /portal/static/{file}``: the packaged assets.

Swagger UI runs script, so these pages get their own Content-Security-Policy: scripts and styles from this
origin only (no inline script), ``connect-src 'self'`` for the spec fetch, ``img-src data:`` for its icons,
and still ``frame-ancestors 'none'`` (CSP Level 2; docs/architecture.md section 6).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox.customers import psu_listing
from sandbox.errors import NotFound
from sandbox.obie_documents import served_yaml
from sandbox.services import services

PACKAGE_DIR: Final = Path(__file__).parent
STATIC_DIR: Final = PACKAGE_DIR / "static"
EXAMPLES_DIR: Final = PACKAGE_DIR / "docs"
# The public contract lives at the repository root (docs/architecture.md section 2, ``openapi/``).
OPENAPI_DIR: Final = PACKAGE_DIR.parent / "openapi"
ROUTES_FILE: Final = PACKAGE_DIR.parent / "policies" / "routes.yaml"

# Name -> (file under openapi/, title).
SPECS: Final = {
    "account-info": (
        "obie/account-and-transaction/v3.1.11/account-info-openapi.yaml",
        "Account and transaction information (OBIE v3.1.11)",
    ),
    "payment-initiation": (
        "obie/payment-initiation/v3.1.11/payment-initiation-openapi.yaml",
        "Payment initiation (OBIE v3.1.11)",
    ),
    "confirmation-funds": (
        "obie/confirmation-of-funds/v3.1.11/confirmation-funds-openapi.yaml",
        "Confirmation of funds (OBIE v3.1.11)",
    ),
    "vrp": (
        "obie/vrp/v3.1.11/vrp-openapi.yaml",
        "Variable recurring payments (OBIE v3.1.11)",
    ),
    "oauth": ("oauth.yaml", "Authorization server and client registration"),
    "sandbox": ("sandbox.yaml", "Sandbox portal and directory"),
}
# The official OBIE files, published cut to the operations the gateway serves.
OBIE_SPECS: Final = frozenset({"account-info", "payment-initiation", "confirmation-funds", "vrp"})
STATIC_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "reference.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
    "swagger-ui-LICENSE": "text/plain; charset=utf-8",
    "swagger-ui-NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}
EXAMPLES: Final = ("first_consent.py", "first_consent.sh", "first_payment.py", "first_vrp.py")

DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: Final = {"content-security-policy": DOCS_CSP, "cache-control": "no-cache"}


def example(name: str) -> str:
    """The text of one packaged example file, exactly as stored."""
    if name not in EXAMPLES:
        raise NotFound(f"no example {name}")
    return (EXAMPLES_DIR / name).read_text(encoding="utf-8")


def _render(request: Request, template: str, context: dict[str, object]) -> Response:
    svc = services(request)
    return svc.templates.TemplateResponse(
        request,
        template,
        {"gateway_issuer": svc.settings.gateway_issuer, "sandbox_url": svc.settings.public_url, **context},
        headers=HEADERS,
    )


async def docs_index(request: Request) -> Response:
    return _render(request, "docs.html", {"specs": SPECS})


async def getting_started(request: Request) -> Response:
    return _render(
        request,
        "docs_getting_started.html",
        {"python_example": example("first_consent.py"), "curl_example": example("first_consent.sh"),
         "payment_example": example("first_payment.py"), "vrp_example": example("first_vrp.py"),
         "psus": psu_listing()},
    )


async def reference(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        raise NotFound(f"no document {name}")
    return _render(request, "docs_reference.html", {"name": name, "title": SPECS[name][1]})


@functools.cache
def documents() -> Mapping[str, bytes]:
    """Every published document's bytes, by name; built once per process."""
    return {
        name: (
            served_yaml(official_file=OPENAPI_DIR / file, routes_file=ROUTES_FILE)
            if name in OBIE_SPECS
            else (OPENAPI_DIR / file).read_bytes()
        )
        for name, (file, _title) in SPECS.items()
    }


async def spec(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        raise NotFound(f"no document {name}; see /portal/docs")
    return Response(documents()[name], media_type="application/yaml", headers=HEADERS)


async def static(request: Request) -> Response:
    # Fixed list, never a path from the request: nothing outside the package can be read.
    name = request.path_params["file"]
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound(f"no file {name}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


def routes() -> list[BaseRoute]:
    documents()  # at start-up, not on the first request
    return [
        Route("/portal/docs", docs_index, methods=["GET"]),
        Route("/portal/docs/getting-started", getting_started, methods=["GET"]),
        Route("/portal/docs/reference/{name}", reference, methods=["GET"]),
        Route("/portal/specs/{name}.yaml", spec, methods=["GET"]),
        Route("/portal/static/{file}", static, methods=["GET"]),
    ]
