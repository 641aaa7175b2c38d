"""One ASGI middleware that times each request, counts it in the metrics and writes its log line.

Placed inside ``InteractionIdMiddleware`` so the interaction id it logs is the one the response carries.
The route label is the matched route's path template (``/open-banking/v3.1/aisp/accounts/{AccountId}``),
rebuilt from the router's ``path_params`` so a request costs no extra matching, or whatever a handler set
with ``context.annotate(route=...)``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from gateway.observability import context
from gateway.observability import metrics
from gateway.observability.logging import log_request


def route_template(scope: Scope) -> str:
    if scope.get("endpoint") is None:
        return metrics.UNMATCHED_ROUTE
    path: str = scope.get("root_path", "") + scope.get("path", "")
    params: dict[str, Any] = scope.get("path_params") or {}
    if not params:
        return path
    # Replace each parameter's value, segment by segment, by its name: identifiers (account ids, consent
    # ids, client ids) leave the label set bounded and keep personal data out of the metrics.
    by_value = {str(v): k for k, v in params.items()}
    segments = [f"{{{by_value[s]}}}" if s in by_value else s for s in path.split("/")]
    template = "/".join(segments)
    for value, name in by_value.items():
        if "/" in value and value in template:  # a {name:path} parameter spans segments
            template = template.replace(value, f"{{{name}}}")
    return template


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        interaction_id = str(scope.get("state", {}).get("interaction_id", ""))
        request_context, token = context.begin(interaction_id=interaction_id)
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            context.end(token)
            seconds = time.perf_counter() - started
            route = request_context.route or route_template(scope)
            method = str(scope.get("method", ""))
            metrics.observe_request(
                route=route,
                method=method,
                status=status,
                client_id=request_context.client_id,
                seconds=seconds,
            )
            log_request(
                method=method, route=route, status=status, duration_ms=seconds * 1000,
                interaction_id=request_context.interaction_id, client_id=request_context.client_id,
                consent_id=request_context.consent_id,
            )  # fmt: skip
