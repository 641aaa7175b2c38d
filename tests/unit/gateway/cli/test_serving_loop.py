"""``obgw serve`` and ``obgw up`` serve on uvloop with httptools' parser (gateway/cli/main.py), never on the
pure-Python fallbacks uvicorn's "auto" would pick silently when one is missing."""

from __future__ import annotations

import asyncio

import uvloop
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.cli.main import _server
from gateway.cli.main import run_on_server_loop


def test_the_servers_run_on_uvloop() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        seen.append(asyncio.get_running_loop())

    run_on_server_loop(main())
    assert len(seen) == 1 and isinstance(seen[0], uvloop.Loop)


def test_the_server_parses_http_with_httptools() -> None:
    server = _server(Starlette(), "127.0.0.1", 0, "warning")
    assert server.config.loop == "uvloop"
    server.config.load()
    assert server.config.http_protocol_class is HttpToolsProtocol
