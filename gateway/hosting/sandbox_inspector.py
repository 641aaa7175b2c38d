"""The sandbox request inspector's endpoints, mounted in sandbox mode only (``gateway.events.inspector``;
docs/architecture.md section 7, "Sandbox inspector").

* ``POST /sandbox/v1/inspector/{client_id}/event-notifications``: the callback (what ``{CallbackUrl}`` plus the
  OBIE Event Notification path reaches); records the request's headers and body, answers 202. The delivery
  worker reaches its own TPP's inspector in-process; this route records anything else that arrives.
* ``GET /sandbox/v1/inspector/{client_id}``: what arrived, newest first, to that TPP only: its
  client-credentials token holding one of the events scopes (as ``/tpp/v1/event-log``). Another TPP's
  inspector answers 404, like one that does not exist.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway import errors
from gateway.events.callbacks import NOTIFICATION_PATH
from gateway.events.inspector import PATH_PREFIX
from gateway.events.inspector import Inspector
from gateway.hosting.tpp_event_log import events_client
from gateway.settings import Settings
from gateway.store.db import utcnow

_RECORDED_HEADERS = ("content-type", "x-fapi-financial-id", "x-fapi-interaction-id", "user-agent")


def routes(settings: Settings, inspector: Inspector | None) -> list[BaseRoute]:
    if not settings.is_sandbox or inspector is None:
        return []

    async def notified(request: Request) -> Response:
        body = (await request.body()).decode(errors="replace")
        headers = {name: request.headers[name] for name in _RECORDED_HEADERS if name in request.headers}
        inspector.record(client_id=request.path_params["client_id"], at=utcnow(), source="http", headers=headers,
                         body=body)
        return Response(status_code=202)

    async def view(request: Request) -> Response:
        tpp = await events_client(request)
        client_id = request.path_params["client_id"]
        if client_id != tpp.client_id:
            raise errors.NotFound("no such inspector")
        entries = inspector.entries(client_id=client_id)
        return JSONResponse({"Data": {"CallbackUrl": inspector.callback_url(client_id=client_id),
                                      "Requests": [entry.as_json() for entry in entries]}},
                            headers={"cache-control": "no-store"})

    return [
        Route(f"{PATH_PREFIX}/{{client_id:str}}{NOTIFICATION_PATH}", notified, methods=["POST"]),
        Route(f"{PATH_PREFIX}/{{client_id:str}}", view, methods=["GET"]),
    ]
