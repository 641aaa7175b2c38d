"""The sandbox bank app in-process under the gateway's bank client, for tests that need no socket.

``AsgiTransport`` is the ``gateway.backend.upstream.Transport`` the ``Bank`` client sends over, with httpx's ASGI
transport in place of the pooled aiohttp one: the same requests reach the real sandbox app; what only the
pooled transport does (retries, circuit breaker, timeouts) is tested against real sockets in
tests/unit/gateway/backend/test_upstream.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from gateway.backend.upstream import UpstreamResponse
from gateway.backend.upstream import upstream_error

SANDBOX_BASE = "http://127.0.0.1:8001"


class AsgiTransport:
    def __init__(self, app: Any, *, base_url: str = SANDBOX_BASE) -> None:
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    async def request(
        self, method: str, path_and_query: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> UpstreamResponse:
        answer = await self._http.request(method, path_and_query, headers=dict(headers), content=body)
        if answer.status_code >= 500:
            raise upstream_error(502, "The account service failed", detail=f"{path_and_query}: {answer.status_code}")
        return UpstreamResponse(status=answer.status_code, content_type=answer.headers.get("content-type", ""),
                                body=answer.content, headers={k.lower(): v for k, v in answer.headers.items()})

    async def close(self) -> None:
        await self._http.aclose()


def sandbox_transports(app: Any) -> dict[str, Any]:
    """``create_app`` keyword arguments: bank calls and TPP key-set fetches both answered by the sandbox ``app``."""
    return {"bank_transport": AsgiTransport(app), "http_transport": httpx.ASGITransport(app=app)}
