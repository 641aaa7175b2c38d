"""The TPP's own event delivery log, and replay, as JSON (docs/architecture.md section 7, "Log, replay,
metrics"; what ``obgw events log|replay`` gives operators, limited to the calling TPP).

* ``GET /tpp/v1/event-log[?limit=N]``: the TPP's events, newest first (at most ``limit``, 1 to 500, default
  100), each with its state, attempts, next attempt, last error, and every delivery attempt (channel, URL,
  outcome, HTTP status, latency in milliseconds, error, whether it was a replay).
* ``POST /tpp/v1/event-log/replay`` ``{"jti": "..."}`` or ``{"since": ISO 8601, "until": ISO 8601}`` (either
  bound may be left out, not both): the TPP's matching events are due again with their own ``jti``
  (``gateway.events.outbox.replay``); answers the ``jti`` of each one replayed.

The TPP's client-credentials token (sender-constrained), holding one of the scopes the rulebook gives the Event
Notification API (``accounts``, ``payments``, ``fundsconfirmations`` as shipped; 403 ``insufficient_scope`` otherwise). Another TPP's
events are never listed nor replayed: a ``jti`` of someone else answers like an unknown one (400
``UK.OBIE.Resource.NotFound``) and changes nothing. A malformed body is 400 ``UK.OBIE.Field.Invalid`` (or
``UK.OBIE.Field.InvalidDate``) and changes nothing. The sandbox's developer page
(``gateway.hosting.tpp_event_log_page``) shows the same log and replays by the same rules (``replay_for``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway import errors
from gateway.events import outbox
from gateway.hosting.json_bodies import json_object
from gateway.pipeline.tokens import require_client_token
from gateway.services import services
from gateway.store.db import Database
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client

PREFIX: Final = "/tpp/v1/event-log"
# The Events API's operation whose rulebook scopes (policies/routes.yaml) the TPP's own event endpoints take too.
EVENTS_OPERATION: Final = "CreateEvents"
MAX_LIMIT: Final = 500
DEFAULT_LIMIT: Final = 100
_NO_STORE: Final = {"cache-control": "no-store"}


async def events_client(request: Request) -> Client:
    """The TPP behind the request's client-credentials token, holding a scope the rulebook gives the Events API
    (OBIE form refusals: ``gateway.pipeline.tokens.require_client_token``)."""
    found = services(request)
    return await require_client_token(request, services=found,
                                      scopes=found.policies.by_operation_id[EVENTS_OPERATION].scopes)


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise errors.FieldInvalid(f"limit must be a whole number from 1 to {MAX_LIMIT}", path="limit")
    return int(raw)


async def event_log(request: Request) -> Response:
    tpp = await events_client(request)
    events = await outbox.delivery_log(db=services(request).db, client_id=tpp.client_id,
                                       limit=_limit(request))
    return JSONResponse({"Data": {"Events": events}}, headers=_NO_STORE)


def moment(value: object, *, name: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone (``None`` when left out), or 400 ``UK.OBIE.Field.InvalidDate``."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        found = datetime.fromisoformat(value)
    except ValueError:
        raise errors.FieldInvalidDate(f"{name} must be an ISO 8601 date-time", path=name) from None
    if found.tzinfo is None:
        raise errors.FieldInvalidDate(f"{name} needs a time zone", path=name)
    return found


async def replay_for(*, db: Database, client_id: str, jti: object, since: datetime | None,
                     until: datetime | None) -> list[str]:
    """Replay one event of ``client_id`` by ``jti``, or its events of a time range; the ``jti`` of each one made
    due again. A request that is not one of the two, or names no event of this client, is an OBIE error and
    changes nothing (what this API and the developer's page, ``gateway.hosting.tpp_event_log_page``, share)."""
    if jti is not None and (since is not None or until is not None):
        raise errors.FieldInvalid("send either jti or a time range, not both", path="jti")
    if jti is None and since is None and until is None:
        raise errors.FieldInvalid("send the jti of one event, or since and until", path="jti")
    if jti is not None and (not isinstance(jti, str) or not jti):
        raise errors.FieldInvalid("jti must be an event's jti", path="jti")
    if since is not None and until is not None and since > until:
        raise errors.FieldInvalid("since must not be after until", path="since")
    replayed = await outbox.replay(db=db, now=utcnow(), client_id=client_id, jti=jti, since=since, until=until)
    if jti is not None and not replayed:
        # Unknown, or another TPP's: the same answer, and nothing changed.
        raise errors.ResourceNotFound(f"no event {jti} of this client", path="jti")
    return replayed


async def _body(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    unknown = set(body) - {"jti", "since", "until"}
    if unknown:
        raise errors.FieldInvalid(f"unknown member {sorted(unknown)[0]}: send jti, or since and until",
                                  path=sorted(unknown)[0])
    return body


async def replay(request: Request) -> Response:
    tpp = await events_client(request)
    body = await _body(request)
    replayed = await replay_for(db=services(request).db, client_id=tpp.client_id, jti=body.get("jti"),
                                since=moment(body.get("since"), name="since"),
                                until=moment(body.get("until"), name="until"))
    return JSONResponse({"Data": {"Replayed": replayed}}, headers=_NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route(PREFIX, event_log, methods=["GET"]),
        Route(f"{PREFIX}/replay", replay, methods=["POST"]),
    ]
