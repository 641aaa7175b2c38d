"""What the request being served is about: client, consent and route template, filled in by whoever learns
them (client authentication, the access-token check, the pipeline) and read once by the observability
middleware for the metrics labels and the request's log line.

A mutable holder in a context variable: the middleware sets it before calling the app, so every handler
below (in the same task or a copied context) reaches the same object.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("obgw_request", default=None)


@dataclass
class RequestContext:
    interaction_id: str = ""
    client_id: str = ""
    consent_id: str = ""
    route: str = ""


def begin(*, interaction_id: str) -> tuple[RequestContext, contextvars.Token[RequestContext | None]]:
    context = RequestContext(interaction_id=interaction_id)
    return context, _current.set(context)


def end(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)


def current() -> RequestContext | None:
    return _current.get()


def annotate(
    *, client_id: str | None = None, consent_id: str | None = None, route: str | None = None
) -> None:
    """Record what this request is about (no-op outside a request). Identifiers only: never a token or key."""
    context = _current.get()
    if context is None:
        return
    if client_id:
        context.client_id = client_id
    if consent_id:
        context.consent_id = consent_id
    if route:
        context.route = route
