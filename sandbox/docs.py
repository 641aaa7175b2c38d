"""Partner documentation in the sandbox portal: the OpenAPI documents, a rendered reference and a guide.

* ``GET /portal/specs/{name}.yaml``: the documents of ``openapi/`` as they are (OpenAPI 3.0.3), so a partner's
  tools read exactly what the gateway validates against.
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

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from sandbox.customers import psu_listing
from sandbox.errors import NotFound
from sandbox.services import services

PACKAGE_DIR: Final = Path(__file__).parent
STATIC_DIR: Final = PACKAGE_DIR / "static"
EXAMPLES_DIR: Final = PACKAGE_DIR / "docs"
# The public contract lives at the repository root (docs/architecture.md section 2, ``openapi/``).
OPENAPI_DIR: Final = PACKAGE_DIR.parent / "openapi"

SPECS: Final = {
    "account-info": ("account-info-openapi.yaml", "Account and transaction information (OBIE v3.1.11)"),
    "payment-initiation": ("payment-initiation-openapi.yaml", "Payment initiation (OBIE v3.1.11)"),
    "confirmation-funds": ("confirmation-funds-openapi.yaml", "Confirmation of funds (OBIE v3.1.11)"),
    "oauth": ("oauth.yaml", "Authorization server and client registration"),
    "sandbox": ("sandbox.yaml", "Sandbox portal and directory"),
}
STATIC_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "reference.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
    "swagger-ui-LICENSE": "text/plain; charset=utf-8",
    "swagger-ui-NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}
EXAMPLES: Final = ("first_consent.py", "first_consent.sh", "first_payment.py")

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
         "payment_example": example("first_payment.py"), "psus": psu_listing()},
    )


async def reference(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        raise NotFound(f"no document {name}")
    return _render(request, "docs_reference.html", {"name": name, "title": SPECS[name][1]})


async def spec(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        raise NotFound(f"no document {name}; see /portal/docs")
    return FileResponse(OPENAPI_DIR / SPECS[name][0], media_type="application/yaml", headers=HEADERS)


async def static(request: Request) -> Response:
    # Fixed list, never a path from the request: nothing outside the package can be read.
    name = request.path_params["file"]
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound(f"no file {name}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


def routes() -> list[BaseRoute]:
    return [
        Route("/portal/docs", docs_index, methods=["GET"]),
        Route("/portal/docs/getting-started", getting_started, methods=["GET"]),
        Route("/portal/docs/reference/{name}", reference, methods=["GET"]),
        Route("/portal/specs/{name}.yaml", spec, methods=["GET"]),
        Route("/portal/static/{file}", static, methods=["GET"]),
    ]
