"""Structured request logs (docs/architecture.md section 6: secrets and keys never in logs): one JSON line per request
keyed by ``x-fapi-interaction-id``; a whole journey (registration, token, PAR, sign-in, approval, token) leaves
none of the secrets it used in the captured log: software statement, private key material, client
assertions, DPoP proofs, request_uri, code, code_verifier, tokens, ID token, the customer's credentials."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.observability import context
from gateway.observability.logging import REDACTED
from gateway.observability.logging import configure_logging
from gateway.observability.logging import redact
from gateway.observability.middleware import ObservabilityMiddleware
from tests.scale.journey import run_journey


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The production handler (JSON + redaction) on the root logger, writing to a buffer."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(level="info", stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_a_whole_journey_logs_no_secret(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, captured: io.StringIO
) -> None:
    journey = await run_journey(client, sandbox, issuer=str(client.base_url).rstrip("/"))
    # Libraries log too: a careless line quoting a credential must come out scrubbed.
    logging.getLogger("somewhere.else").warning("retrying with Authorization: DPoP %s", journey.access_token)
    text = captured.getvalue()
    requests = [line for line in lines(captured) if line["logger"] == "obgw.request"]
    assert len(requests) >= 8  # discovery, registration, 2 tokens, consent, PAR, pages, approval
    assert len(journey.secrets) >= 15
    for secret in journey.secrets:
        assert secret not in text, f"a secret of the journey reached the log: {secret[:12]}..."


async def test_each_request_logs_one_line_keyed_by_its_interaction_id(
    client: httpx.AsyncClient, captured: io.StringIO
) -> None:
    interaction_id = "93bac548-d2de-4546-b106-880a5018460d"
    response = await client.get("/.well-known/openid-configuration", headers={"x-fapi-interaction-id": interaction_id})
    assert response.headers["x-fapi-interaction-id"] == interaction_id
    mine = [line for line in lines(captured) if line.get("interaction_id") == interaction_id]
    assert len(mine) == 1
    assert mine[0]["route"] == "/.well-known/openid-configuration"
    assert mine[0]["status"] == 200 and mine[0]["method"] == "GET" and mine[0]["level"] == "info"


async def test_handlers_annotate_client_and_consent_for_metrics_and_logs(captured: io.StringIO) -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        context.annotate(client_id="client-7", consent_id="aac-42")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/things/{thing_id}", endpoint)], middleware=[])
    app.add_middleware(ObservabilityMiddleware)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/things/abc")).status_code == 200
    line = [line for line in lines(captured) if line["logger"] == "obgw.request"][-1]
    assert (line["route"], line["client_id"], line["consent_id"]) == ("/things/{thing_id}", "client-7", "aac-42")


@pytest.mark.parametrize(
    "raw",
    [
        "GET /authorize?client_id=c&request_uri=urn:ietf:params:oauth:request_uri:abcDEF123456",
        "GET /cb?code=Zm9vYmFyYmF6cXV4&state=s",
        "Authorization: Bearer abcdefghijklmnop",
        "assertion eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "password=hunter2hunter2&username=alice",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----",
    ],
)
def test_redaction_scrubs_secret_shapes(raw: str) -> None:
    cleaned = redact(raw)
    assert REDACTED in cleaned
    for secret in ("abcDEF123456", "Zm9vYmFyYmF6cXV4", "abcdefghijklmnop", "c2lnbmF0dXJl", "hunter2", "alice",
                   "MIIEvQ"):  # fmt: skip
        assert secret not in cleaned


def test_secret_named_fields_are_redacted_whatever_their_value(captured: io.StringIO) -> None:
    logging.getLogger("obgw.test").info("event", extra={"fields": {"client_secret": "s3", "private_jwk": {"d": "x"},
                                                                   "client_id": "c1"}})  # fmt: skip
    line = lines(captured)[-1]
    assert line["client_secret"] == REDACTED and line["private_jwk"] == REDACTED and line["client_id"] == "c1"


def test_exceptions_are_logged_scrubbed(captured: io.StringIO) -> None:
    try:
        raise RuntimeError("bad token eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiIxIn0.c2lnc2ln")
    except RuntimeError:
        logging.getLogger("obgw.test").exception("failed")
    line = lines(captured)[-1]
    assert "c2lnc2ln" not in json.dumps(line) and REDACTED in str(line["exception"])
