"""OpenTelemetry tracing, when configured (``OBGW_OTEL_ENDPOINT``: an OTLP/HTTP traces endpoint).

One server span per request (opentelemetry-instrumentation-asgi), tagged with the request's
``x-fapi-interaction-id`` so a trace can be found from a TPP's complaint. Query strings are not recorded:
they can carry codes and ``request_uri`` handles. The packages are an optional extra (``pip install
'obgw[otel]'``); configuring tracing without them is a start-up error, never a silent no-op.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

SERVICE_NAME = "obgw-gateway"


class TracingUnavailable(RuntimeError):
    pass


def tracer_provider(*, endpoint: str, exporter: Any | None = None) -> Any:
    """A provider exporting to ``endpoint`` (or to ``exporter``, for tests)."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable("OBGW_OTEL_ENDPOINT is set but OpenTelemetry is not installed: "
                                 "pip install 'obgw[otel]'") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def _server_request_hook(span: Any, scope: dict[str, Any]) -> None:
    if span is None or not span.is_recording():
        return
    # Overwrite what the instrumentation recorded from the full URL: the path only, never the query.
    path = scope.get("path", "")
    span.set_attribute("http.target", path)
    span.set_attribute("url.path", path)
    span.set_attribute("url.query", "")
    server = scope.get("server") or ("", "")
    span.set_attribute("http.url", f"{scope.get('scheme', 'http')}://{server[0]}:{server[1]}{path}")
    interaction = scope.get("state", {}).get("interaction_id")
    if interaction:
        span.set_attribute("fapi.interaction_id", interaction)


def instrument(app: ASGIApp, *, provider: Any) -> ASGIApp:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(  # type: ignore[no-any-return]
        app,
        tracer_provider=provider,
        server_request_hook=_server_request_hook,
        # Spans are named by method and route only; full URLs (with query strings) are not recorded.
        default_span_details=lambda scope: (f"{scope.get('method', 'HTTP')} {scope.get('path', '')}", {}),
        exclude_spans=["receive", "send"],
    )
