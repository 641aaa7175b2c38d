"""The sandbox's composition root: ``create_app(settings)`` wires its database, directory, CA and routes.

A separate ASGI app from the gateway (docs/architecture.md section 2): the two meet only over HTTP and the shared
``var/`` folder (the gateway's public JWKS, the directory's public JWKS).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from sandbox import ais
from sandbox import bank_api
from sandbox import csrf
from sandbox import directory
from sandbox import docs
from sandbox import payments
from sandbox import portal
from sandbox import scenarios
from sandbox import vrp_payments
from sandbox.ca import SandboxCa
from sandbox.context import ContextVerifier
from sandbox.customers import seed
from sandbox.db import SandboxDatabase
from sandbox.directory import Directory
from sandbox.errors import EXCEPTION_HANDLERS
from sandbox.ledger_store import seed_histories
from sandbox.security_headers import SecurityHeadersMiddleware
from sandbox.services import SandboxServices
from sandbox.settings import SandboxSettings

TEMPLATES_DIR = Path(__file__).parent / "templates"


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def build_services(settings: SandboxSettings) -> SandboxServices:
    """Everything the sandbox holds; also used by the CLI, which works without a server."""
    return SandboxServices(
        settings=settings,
        db=SandboxDatabase(settings.database_url),
        context=ContextVerifier(
            jwks_file=settings.gateway_jwks_file,
            issuer=settings.gateway_issuer,
            algorithms=settings.context_algorithms,
            max_lifetime=settings.context_max_lifetime,
            clock_skew=settings.clock_skew,
        ),
        directory=Directory(settings=settings),
        ca=SandboxCa(ca_dir=settings.ca_dir),
        templates=Jinja2Templates(directory=str(TEMPLATES_DIR)),
        portal_secret=csrf.load_or_create_secret(
            configured=settings.portal_secret, path=settings.directory_dir / "portal-secret"
        ),
    )


async def prepare_database(svc: SandboxServices, *, create_schema: bool) -> None:
    """Create the schema if asked, then add any missing test customer and bring account histories up to today
    (idempotent)."""
    if create_schema:
        await svc.db.create_all()
    try:
        await seed(svc.db)
        await seed_histories(svc.db)
    except OperationalError as exc:
        raise RuntimeError(
            "the sandbox database has no tables: run 'obgw sandbox seed' (or start with create_schema=True)"
        ) from exc


def create_app(settings: SandboxSettings, *, create_schema: bool = False) -> Starlette:
    svc = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await prepare_database(svc, create_schema=create_schema)
        yield
        await svc.db.dispose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            *bank_api.routes(),
            *ais.routes(),
            *directory.routes(),
            *portal.routes(),
            *docs.routes(),
            *vrp_payments.routes(),  # before payments': its /bank/v1/pisp/{collection} would take them
            *payments.routes(),
            *scenarios.routes(),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware)],
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.sandbox = svc
    return app
