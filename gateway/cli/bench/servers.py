"""The two servers only the benchmark starts, each by ``python -m gateway.cli.bench <serve-...>`` with the uvicorn
options ``obgw serve`` uses (``gateway.cli.main``):

* ``serve-gateway CLAIMS``: the gateway exactly as ``obgw serve`` builds it, plus a bench-only pass-through route
  ``/bench/passthrough/{path}`` that only signs the bank context and proxies through the AIS pipeline's upstream
  client, with no checks (line 3 of docs/performance.md). The route exists only in this process, never in
  ``obgw serve``/``obgw up``.
* ``serve-floor UPSTREAM PORT``: the smallest starlette + aiohttp proxy (one route, one pooled client session) to
  the same upstream: what any Python proxy on this stack costs (line 2).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any


def _run(app: Any, *, host: str, port: int) -> None:
    from gateway.cli.main import _server  # the uvicorn options of obgw serve
    from gateway.cli.main import run_on_server_loop  # and its event loop

    server = _server(app, host, port, "warning")

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await server.serve()

    run_on_server_loop(serve())


def serve_gateway(*, claims_file: Path) -> None:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from gateway.app import create_app
    from gateway.errors import interaction_id
    from gateway.services import services as services_of
    from gateway.settings import Settings

    settings = Settings.from_env()
    claims = json.loads(claims_file.read_text())
    app = create_app(settings)

    async def passthrough(request: Request) -> Response:
        answer = await services_of(request).bank.account_resource(
            public_base=settings.issuer,
            sub_path="/" + request.path_params["rest"], query=list(request.query_params.multi_items()),
            claims=claims, interaction_id=interaction_id(request),
        )
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    app.router.routes.insert(0, Route("/bench/passthrough/{rest:path}", passthrough, methods=["GET"]))
    _run(app, host=settings.host, port=settings.port)


def floor_app(*, upstream: str) -> Any:
    """GET /{path} -> GET {upstream}/{path} over one keep-alive aiohttp session; status, body and type back."""
    from contextlib import asynccontextmanager

    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    state: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        state["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30))
        yield
        await state["http"].close()

    async def proxy(request: Request) -> Response:
        async with state["http"].get(upstream + request.url.path) as answer:
            body = await answer.read()
            return Response(body, status_code=answer.status, media_type=answer.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", proxy, methods=["GET"])], lifespan=lifespan)


def serve_floor(*, upstream: str, port: int) -> None:
    _run(floor_app(upstream=upstream), host="127.0.0.1", port=port)
