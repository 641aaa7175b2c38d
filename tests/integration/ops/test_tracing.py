"""OpenTelemetry tracing when configured: one server span per request carrying the x-fapi-interaction-id,
no query strings recorded; configured without the packages is a start-up error."""

from __future__ import annotations

import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from tests.conftest import ISSUER
from tests.helpers.bank import sandbox_transports


async def test_each_request_is_a_span_tagged_with_its_interaction_id(settings, gateway_keys, sandbox_app) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    app = create_app(settings, keys=gateway_keys, **sandbox_transports(sandbox_app),
                     span_exporter=exporter, create_schema=True)
    interaction = str(uuid.uuid4())
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as http:
            answer = await http.get("/authorize?client_id=x&request_uri=secret-handle",
                                    headers={"x-fapi-interaction-id": interaction})
            assert answer.headers["x-fapi-interaction-id"] == interaction
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.attributes.get("fapi.interaction_id") == interaction]
    assert len(server) == 1
    recorded = " ".join(f"{k}={v}" for s in spans for k, v in (s.attributes or {}).items()) + server[0].name
    assert "secret-handle" not in recorded


def test_tracing_configured_without_the_packages_refuses_to_start(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import builtins

    from gateway.observability import tracing

    real_import = builtins.__import__

    def no_otel(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("opentelemetry"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otel)
    with pytest.raises(tracing.TracingUnavailable, match="obgw\\[otel\\]"):
        create_app(settings.replace(otel_endpoint="http://127.0.0.1:4318/v1/traces"))
